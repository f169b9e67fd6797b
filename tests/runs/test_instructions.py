import json
from pathlib import Path

import pytest

from vestis.runs.instructions import (
    InstructionsError,
    SimpleInstruction,
    build_instructions,
    count_outputs,
)


def test_no_flags_give_one_empty_instruction():
    assert build_instructions(SimpleInstruction(), None) == [{}]


def test_simple_flags_follow_the_reference_rules():
    simple = SimpleInstruction(
        prompt="p",
        pose="standing",
        background="",
        num_variations=1,
        size="2K",
        aspect_ratio="3:4",
        fmt=None,
        seed=0,
    )
    assert simple.build() == {
        "prompt": "p",
        "pose": "standing",
        "seed": 0,
        "options": {"size": "2K", "ar": "3:4"},
    }
    assert SimpleInstruction(num_variations=3).build() == {"num_variations": 3}
    assert SimpleInstruction(fmt="png").build() == {"options": {"format": "png"}}


def test_file_overrides_flags_and_accepts_list_or_dict(tmp_path: Path):
    listed = tmp_path / "a.json"
    listed.write_text(json.dumps([{"pose": "a"}, {"pose": "b", "num_variations": 2}]))
    wrapped = tmp_path / "b.json"
    wrapped.write_text(json.dumps({"instructions": [{"pose": "c"}]}))
    assert build_instructions(SimpleInstruction(pose="ignored"), listed)[0] == {"pose": "a"}
    assert build_instructions(SimpleInstruction(), wrapped) == [{"pose": "c"}]
    assert count_outputs(build_instructions(SimpleInstruction(), listed)) == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Instructions file not found"),
        ("{not json", "Error parsing instructions file"),
        ('{"x": 1}', 'Invalid instructions file: expected a list or {"instructions": [...]}'),
        ("3", "Invalid instructions file"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, content, message):
    path = tmp_path / "i.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InstructionsError, match=message.replace("[", r"\[").replace("{", r"\{")):
        build_instructions(SimpleInstruction(), path)
