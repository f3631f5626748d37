"""Import rules without the render service: recognising STEP/STL by content, the size cap, safe names."""

from __future__ import annotations

import struct

import pytest

from chat3d.domain import imports
from chat3d.domain.errors import InvalidInput
from chat3d.settings import reset_settings_cache
from render_service.precheck import valid_input_name
from tests.support.cad_files import CORRUPT_STEP, block_files


def test_real_files_are_recognised_by_content() -> None:
    f = block_files()
    assert imports.sniff_cad(f["step"]) == "step"
    assert imports.sniff_cad(f["stl"]) == "stl"
    assert imports.sniff_cad(f["stl_ascii"]) == "stl"
    # A binary STL whose 80-byte header happens to start with "solid" is still binary.
    tricky = b"solid but binary".ljust(80, b" ") + f["stl"][80:]
    assert imports.sniff_cad(tricky) == "stl"


@pytest.mark.parametrize("data", [
    b"%PDF-1.7 not a model", b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"solid x\nthis has no triangles\nendsolid x\n",
    b"ISO-10303-2", b"a" * 200,
])
def test_other_content_is_refused_whatever_its_name(data: bytes, monkeypatch) -> None:
    with pytest.raises(InvalidInput, match="Only STEP"):
        imports.validate_cad_upload(data)


def test_empty_and_triangle_free_stl() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        imports.validate_cad_upload(b"")
    with pytest.raises(InvalidInput, match="no triangles"):
        imports.validate_cad_upload(b"\0" * 80 + struct.pack("<I", 0))


def test_size_cap_comes_from_settings(monkeypatch) -> None:
    monkeypatch.setenv("IMPORT_MAX_BYTES", "2048")
    reset_settings_cache()
    try:
        with pytest.raises(InvalidInput, match="at most"):
            imports.validate_cad_upload(b"ISO-10303-21;\n" + b"x" * 4000)
        assert imports.validate_cad_upload(CORRUPT_STEP) == "step"  # small enough; its body is checked by rendering
    finally:
        monkeypatch.delenv("IMPORT_MAX_BYTES")
        reset_settings_cache()


@pytest.mark.parametrize("given,fmt,expected", [
    ("bracket.step", "step", "bracket.step"),
    ("Bracket v2 (final).STP", "step", "Bracket_v2_final.step"),
    ("../../etc/passwd", "step", "passwd.step"),
    ("..\\..\\evil name.stl", "stl", "evil_name.stl"),
    ("....", "stl", "imported.stl"),
    ("", "step", "imported.step"),
    ("model.stl", "stl", "imported_model.stl"),  # Chat3D's own download (the render job writes model.*)
    ("model.step", "step", "imported_model.step"),
    ("result.json.step", "step", "result_json.step"),
])
def test_input_names_are_bare(given, fmt, expected) -> None:
    name = imports.input_name(given, fmt)
    assert name == expected
    assert "/" not in name and ".." not in name
    assert valid_input_name(name), name  # the render service accepts it


def test_program_loads_the_file_by_its_bare_name() -> None:
    assert 'imported = import_step("part.step")' in imports.program_for("step", "part.step")
    assert 'imported = Mesher().read("part.stl")[0]' in imports.program_for("stl", "part.stl")
    assert imports.program_for("step", "part.step").rstrip().endswith("result = imported")
