"""One bad PNG never stops a folder (issue 27, defect 4): ``ddpm-studio index``, the gallery's folder scan and an
index rebuild skip and name a PNG whose header claims 50,000×50,000 pixels and looping symbolic links, index a
picture whose JSON text is nested 100,000 deep or whose seed is 10^26 without that value (and say so), and index
every other picture; ``info`` and restoring parameters say in one sentence what is wrong with such a file."""

from __future__ import annotations

import pytest

from ddpm_studio.cli import main
from ddpm_studio.engine.gallery.index import GalleryIndex
from ddpm_studio.engine.output.metadata import MetadataError, read_job, read_metadata, read_png_text
from tests.hostile_pngs import hostile_folder


@pytest.fixture()
def hostile(tmp_path, monkeypatch):
    monkeypatch.setenv("DDPM_STUDIO_GALLERY", str(tmp_path / "index" / "gallery.sqlite"))
    return hostile_folder(tmp_path / "downloads")


def test_index_skips_and_names_each_unreadable_file_and_indexes_the_rest(hostile, capsys):
    assert main(["index", str(hostile["good"].parent)]) == 0
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if line.startswith("skipped: ")]
    assert any("bomb.png" in line and "50,000×50,000 pixels" in line for line in skipped)
    assert any("loop_a.png" in line and "loops back on itself" in line for line in skipped)
    assert any("loop_b.png" in line and "loops back on itself" in line for line in skipped)
    assert any(f"{hostile['here']} is a symbolic link to a folder it is in" in line for line in skipped)
    partly = [line for line in err.splitlines() if line.startswith("read in part: ")]
    assert any("deep.png" in line and "nested too deeply" in line for line in partly)
    assert any("deep_comfy.png" in line and "nested too deeply" in line for line in partly)
    assert any("big_seed.png" in line and f"seed {10**26}" in line for line in partly)
    assert "Traceback" not in err and "5 added" in err and "4 skipped" in err

    rows = {row["path"]: row for row in GalleryIndex().search(limit=None)}
    names = sorted(path.rsplit("/", 1)[1] for path in rows)
    assert names == ["big_seed.png", "deep.png", "deep_comfy.png", "good.png", "zz_also_good.png"]
    assert rows[str(hostile["big_seed"])]["seed"] is None and rows[str(hostile["big_seed"])]["prompt"] == "a red barn"
    assert rows[str(hostile["also_good"])]["seed"] == 7  # after the bad ones, still indexed
    assert [row["path"] for row in GalleryIndex().search("lighthouse seed:99")] == [str(hostile["good"])]


def test_a_rebuilt_index_names_what_it_could_not_read(hostile):
    index = GalleryIndex()
    index.add_folder(hostile["good"].parent)
    index.close()
    index.path.write_bytes(b"not a database" * 300)  # rebuilt from the folders at the next open
    index = GalleryIndex()
    notes = " ".join(index.notes)
    assert "moved aside" in notes and "bomb.png" in notes and "loop_a.png" in notes
    assert index.count() == 5


def test_info_and_restore_say_what_is_wrong_in_one_sentence(hostile, capsys):
    assert main(["info", str(hostile["bomb"])]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ddpm-studio: error: {hostile['bomb']} was not read: its header claims 50,000×50,000")
    assert main(["info", "--json", str(hostile["deep"])]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (f"ddpm-studio: error: {hostile['deep']}: the DDPM Studio parameters could not be read: nested "
                   "too deeply (damaged or crafted text).")
    assert main(["info", str(hostile["big_seed"])]) == 0  # the text as written, the seed included
    assert str(10**26) in capsys.readouterr().out
    for name in ("bomb", "deep", "deep_comfy", "big_seed"):
        with pytest.raises(MetadataError, match=name):
            read_job(hostile[name], own_seed=True)  # what restoring parameters reads
    with pytest.raises(MetadataError, match="loop"):
        read_metadata(hostile["loop_a"])
    with pytest.raises(MetadataError, match="50,000×50,000"):
        read_png_text(hostile["bomb"])
