from tests.runs.fake_client import image_bytes

from vestis.runs.naming import (
    assign_stems,
    extension_for,
    image_url,
    reference_name,
    sniff_format,
)


def test_reference_name_follows_the_scripts():
    assert reference_name({"original_filename": "image1.jpg", "version": 0}) == "image1_v0.jpg"
    assert reference_name({"original_filename": "a/b/c.d.png", "version": 2}) == "c.d_v2.png"
    assert reference_name({"original_filename": "noext", "version": 1}) == "noext_v1"
    assert reference_name({"image_index": 3}) == "image_3_v0.jpg"


def test_second_result_with_the_same_name_gets_a_group_suffix():
    results = [
        {"original_filename": "image1.jpg", "image_index": 0, "group_index": 0},
        {"original_filename": "image1.jpg", "image_index": 0, "group_index": 1},
        {"original_filename": "image2.jpg", "image_index": 1, "group_index": 0},
    ]
    stems = assign_stems(results)
    assert stems == {
        "0/0/0": ("image1_v0", "jpg"),
        "0/1/0": ("image1_v0_g1", "jpg"),
        "1/0/0": ("image2_v0", "jpg"),
    }


def test_same_group_and_name_still_never_collide():
    results = [
        {"original_filename": "o.jpg", "image_index": 0, "group_index": 0},
        {"original_filename": "o.jpg", "image_index": 1, "group_index": 0},
        {"original_filename": "o.jpg", "image_index": 2, "group_index": 0},
    ]
    stems = [s for s, _ in assign_stems(results).values()]
    assert len(set(stems)) == 3
    assert stems[0] == "o_v0"


def test_extension_matches_the_real_format():
    assert sniff_format(image_bytes("JPEG")) == "jpeg"
    assert sniff_format(image_bytes("PNG")) == "png"
    assert sniff_format(image_bytes("WEBP")) == "webp"
    assert sniff_format(b"hello") is None
    assert extension_for("jpg", "jpeg") == "jpg"
    assert extension_for("jpeg", "jpeg") == "jpeg"
    assert extension_for("jpg", "png") == "png"
    assert extension_for("png", "jpeg") == "jpg"
    assert extension_for("jpg", None) == "jpg"


def test_image_url_prefers_full_size_and_falls_back_to_url():
    assert image_url({"output": {"full_size": "a"}, "url": "b"}) == "a"
    assert image_url({"output": {"full_size": None}, "url": "b"}) == "b"
    assert image_url({"url": "b"}) == "b"
    assert image_url({"output": {}}) is None
