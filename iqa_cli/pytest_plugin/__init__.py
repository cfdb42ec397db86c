"""pytest plugin: image regression tests with the gate of ``iqa check``.

Registered through the ``pytest11`` entry point; inert until a test asks for
the ``iqa_image`` fixture (importing it imports neither numpy nor torch)::

    def test_render(iqa_image):
        iqa_image.check(render())            # tests/baselines/test_mod/test_render.png

Options: ``--iqa-update=missing|failed|all`` (write missing baselines, also
rewrite failing ones, or rewrite every one; a test that wrote one fails, or is
skipped for a missing one written locally), ``--iqa-results=DIR`` (obtained
image, heatmap and difference mask of failing checks; default
``.iqa-results`` in the rootdir), ``--iqa-report=DIR`` (one HTML page for the
session). Ini option ``iqa_baseline_dir``. Gates and settings come from
``[tool.iqa.check]`` (shared with ``iqa check``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .naming import display
from .session import UPDATE_MODES, State, write_report

_STATE = pytest.StashKey[State]()
_FIXTURE = pytest.StashKey[object]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("iqa", "image regression checks (iqa_image fixture)")
    group.addoption("--iqa-update", choices=UPDATE_MODES, default=None, metavar="missing|failed|all",
                    help="Write missing baselines (missing), also rewrite failing ones (failed), or rewrite "
                    "every one (all). Tests that write one fail, so the change is reviewed; a missing one "
                    "written locally is a skip. Under CI=true missing baselines are never written.")
    group.addoption("--iqa-results", default=None, metavar="DIR",
                    help="Where failing checks leave the obtained image, SSIM heatmap and difference mask "
                    "(default: .iqa-results in the rootdir).")
    group.addoption("--iqa-report", default=None, metavar="DIR",
                    help="Write DIR/index.html: one page with every check of the session.")
    parser.addini("iqa_baseline_dir", "Baseline folder (relative to the ini file); default: "
                  "<test dir>/baselines", default="")


def pytest_configure(config: pytest.Config) -> None:
    inv = Path(config.invocation_params.dir)
    results = config.getoption("iqa_results")
    report = config.getoption("iqa_report")
    ini = config.getini("iqa_baseline_dir")
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    state = State(
        update=config.getoption("iqa_update"),
        results_dir=(inv / results) if results else config.rootpath / ".iqa-results",
        report_dir=(inv / report) if report else None,
        baseline_dir=(ini_dir / ini) if ini else None,
        rootpath=config.rootpath,
        invocation_dir=inv,
    )
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: report rows go where the controller reads them
        rows = workerinput.get("iqa_rows_dir")
        state.rows_dir = Path(rows) if rows else None
    elif state.report_dir is not None:
        import tempfile

        state.rows_dir, state.owns_rows_dir = Path(tempfile.mkdtemp(prefix="iqa-rows-")), True
    config.stash[_STATE] = state
    config.pluginmanager.register(_Session(state), "iqa-session")


@pytest.fixture
def iqa_image(request: pytest.FixtureRequest):
    """Image regression checks: ``iqa_image.check(image, name=None, fail_if=None, **settings)``."""
    from .fixture import IqaImage

    fx = IqaImage(request.node, request.config.stash[_STATE])
    request.node.stash[_FIXTURE] = fx
    return fx


class _Session:
    """The hooks of one run; registered by :func:`pytest_configure`."""

    def __init__(self, state: State):
        self.state = state

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:  # xdist: hand the workers the controller's row folder
        if self.state.rows_dir is not None:
            node.workerinput["iqa_rows_dir"] = str(self.state.rows_dir)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        result = yield
        fx = item.stash.get(_FIXTURE, None)
        if fx is not None and fx.pending:
            fx.finish()
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        report = yield
        fx = item.stash.get(_FIXTURE, None)
        if call.when == "call" and fx is not None and fx.written:
            report.iqa_written = [w.to_json() for w in fx.written]  # plain data: xdist sends it to the controller
            if report.skipped and isinstance(report.longrepr, tuple):  # the skip is the test's, not this file's
                path, line = item.location[0], (item.location[1] or 0) + 1
                report.longrepr = (path, line, report.longrepr[2])
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.state.written.extend(getattr(report, "iqa_written", None) or ())

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not hasattr(session.config, "workerinput"):  # the controller (or the only process) writes the page
            self.state.report_path = write_report(self.state)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        st = self.state
        if st.written:
            terminalreporter.write_sep("=", "iqa: baselines written")
            for w in st.written:
                terminalreporter.write_line(f"{w['action']:<9} {w['path']}  ({w['nodeid']})")
            terminalreporter.write_line("review the images and commit them")
        if st.report_path:
            terminalreporter.write_line(f"iqa: HTML report: {display(st.report_path, str(st.invocation_dir))}")

    def pytest_unconfigure(self) -> None:
        self.state.close()
