"""Without PyAV (the optional extra ``video``), reading a video is a one-line
error naming the extra; everything else about frame sequences still works.
Runs whether PyAV is installed or not."""

from __future__ import annotations

import sys

import pytest

from iqa_cli.errors import IqaError
from iqa_cli.io.frames import is_sequence, open_stream
from iqa_cli.io.video import VideoSupportMissing, probe


@pytest.fixture
def no_pyav(monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # `import av` now raises ImportError


def test_missing_pyav_names_the_extra(no_pyav, tmp_path):
    path = tmp_path / "a.mp4"
    path.write_bytes(b"\x00" * 64)
    for call in (lambda: probe(path), lambda: open_stream(path)):
        with pytest.raises(VideoSupportMissing) as e:
            call()
        msg = str(e.value)
        assert isinstance(e.value, IqaError) and e.value.exit_code == 2
        assert msg.startswith(str(path)) and 'pip install "iqa-cli[video]"' in msg and "\n" not in msg


def test_video_files_are_sequences_by_name_alone(no_pyav, tmp_path):
    assert is_sequence(tmp_path / "clip.mkv") and is_sequence(tmp_path)
    assert not is_sequence(tmp_path / "still.jpg")
