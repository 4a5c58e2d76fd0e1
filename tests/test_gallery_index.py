"""The gallery index (engine/gallery/index.py): every image the engine saves is found at once; searches by words,
seed, model, sampler and date return exactly the right images; an A1111 PNG is indexed from its parameters; a
deleted or garbage database is rebuilt from the PNGs with every image found; vanished files drop out; the CLI's
``search`` and ``index``."""

from __future__ import annotations

import json
import os
import sqlite3

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from ddpm_studio.cli import main
from ddpm_studio.engine.gallery.index import GalleryIndex
from ddpm_studio.engine.gallery.query import QueryError, parse_query
from ddpm_studio.engine.jobs.types import GenerateJob
from ddpm_studio.engine.runner import Engine

A1111_TEXT = ("a castle on a hill, oil painting\nNegative prompt: blurry\nSteps: 30, Sampler: DPM++ 2M, Schedule type: "
              "Karras, CFG scale: 7, Seed: 424242, Size: 64x64, Model hash: abc123, Model: dreamshaper_8")


@pytest.fixture()
def data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("DDPM_STUDIO_GALLERY", raising=False)
    return tmp_path / "data"


def _a1111_png(path):
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_TEXT)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(path, pnginfo=info)
    return path


@pytest.fixture()
def made(data_home, tiny_ddpm_dir, tmp_path):
    """Two runs of the tiny DDPM saved by the engine (seeds 7–8, ddim; seed 20, euler), indexed as they were saved."""
    engine = Engine(device="cpu")
    out = tmp_path / "out"
    first = engine.run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="ddim", steps=2, seed=7, batch_size=2,
                                   preview_every=0, output_dir=str(out)))
    second = engine.run(GenerateJob(model=str(tiny_ddpm_dir), scheduler="euler", steps=2, seed=20, batch_size=1,
                                    preview_every=0, output_dir=str(out / "later")))
    return {"ddim": first.saved_paths, "euler": second.saved_paths, "out": out}


def _paths(rows):
    return sorted(row["path"] for row in rows)


def test_saved_images_are_found_by_seed_model_sampler_and_date(made):
    index = GalleryIndex()
    assert index.path.parent == made["out"].parent / "data" / "ddpm-studio"
    everything = sorted(made["ddim"] + made["euler"])
    assert _paths(index.search()) == everything
    assert _paths(index.search("seed:8")) == [made["ddim"][1]]
    assert _paths(index.search("sampler:euler")) == made["euler"]
    assert _paths(index.search("sampler:DDIM")) == sorted(made["ddim"])  # A1111's name for it too
    assert _paths(index.search("model:tiny")) == everything and index.search("model:nothing-like-it") == []
    assert _paths(index.search("since:2000-01-01 until:2999-12-31")) == everything
    assert index.search("until:2000-01-01") == []
    row = index.get(made["ddim"][0])
    assert (row["seed"], row["scheduler"], row["steps"], row["kind"], row["source"]) == (7, "ddim", 2, "generate",
                                                                                       "ddpm-studio")


def test_words_search_the_prompt_and_an_a1111_png_is_indexed_from_its_parameters(made, tmp_path):
    outside = tmp_path / "a1111"
    outside.mkdir()
    castle = _a1111_png(outside / "00001-424242.png")
    index = GalleryIndex()
    report = index.add_folder(outside)
    assert report.added == 1 and report.skipped == []
    assert _paths(index.search("castle")) == [str(castle)]
    assert _paths(index.search("castle painting")) == [str(castle)] and index.search("castle dragon") == []
    assert _paths(index.search("cast*")) == [str(castle)] and _paths(index.search("blurry")) == [str(castle)]
    assert _paths(index.search("seed:424242")) == [str(castle)]
    row = index.get(str(castle))
    assert (row["prompt"], row["negative"], row["model"], row["steps"], row["scheduler"], row["source"]) == (
        "a castle on a hill, oil painting", "blurry", "dreamshaper_8", 30, "dpm++2m-karras", "a1111")
    assert _paths(index.search("sampler:dpm++2m-karras")) == [str(castle)]


COMFY_GRAPH = {
    "3": {"class_type": "KSampler", "inputs": {"seed": 156680208700286, "steps": 20, "cfg": 8.0, "sampler_name":
          "dpmpp_2m", "scheduler": "karras", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
          "negative": ["7", 0], "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "juggernaut_v9.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 512, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a misty harbour at dawn", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["4", 1]}},
}
INVOKE_METADATA = {"positive_prompt": "a glass teapot", "negative_prompt": "cracks", "seed": 2024, "steps": 30,
                   "cfg_scale": 6.5, "scheduler": "euler_a", "model": {"name": "dreamshaper-8", "base": "sd-1"},
                   "generation_mode": "txt2img", "width": 64, "height": 64}


def test_comfyui_and_invokeai_pngs_are_indexed_from_their_own_metadata(data_home, tmp_path):
    folder = tmp_path / "others"
    folder.mkdir()
    for name, key, value in (("comfy.png", "prompt", COMFY_GRAPH), ("invoke.png", "invokeai_metadata",
                                                                     INVOKE_METADATA)):
        info = PngImagePlugin.PngInfo()
        info.add_text(key, json.dumps(value))
        Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(folder / name, pnginfo=info)
    index = GalleryIndex()
    assert index.add_folder(folder).added == 2
    comfy, invoke = index.get(str(folder / "comfy.png")), index.get(str(folder / "invoke.png"))
    assert (comfy["source"], comfy["prompt"], comfy["negative"], comfy["seed"], comfy["model"], comfy["scheduler"],
            comfy["steps"], comfy["guidance"]) == ("comfyui", "a misty harbour at dawn", "text, watermark",
                                                   156680208700286, "juggernaut_v9", "dpm++2m-karras", 20, 8.0)
    assert (invoke["source"], invoke["prompt"], invoke["seed"], invoke["model"], invoke["scheduler"],
            invoke["steps"]) == ("invokeai", "a glass teapot", 2024, "dreamshaper-8", "euler-a", 30)
    assert _paths(index.search("harbour")) == [str(folder / "comfy.png")]
    assert _paths(index.search("sampler:euler-a")) == [str(folder / "invoke.png")]


@pytest.mark.parametrize("damage", ["deleted", "garbage", "another schema"])
def test_a_lost_or_broken_database_is_rebuilt_from_the_pngs(made, damage):
    path = GalleryIndex().path
    if damage == "deleted":
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{path}{suffix}"):
                os.unlink(f"{path}{suffix}")
    elif damage == "garbage":
        path.write_bytes(b"this is not a database" * 100)
    else:
        path.unlink()
        with sqlite3.connect(path) as other:
            other.execute("CREATE TABLE something (x)")
    index = GalleryIndex()
    assert _paths(index.search()) == sorted(made["ddim"] + made["euler"])  # every image found again
    assert len(index.notes) == 1 and ("was missing" if damage == "deleted" else "moved aside") in index.notes[0]
    assert bool(list(path.parent.glob("gallery.sqlite.broken-*"))) == (damage != "deleted")


def test_a_database_locked_past_the_timeout_is_set_aside_and_rebuilt(made):
    path = GalleryIndex().path
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer that never lets go
    try:
        index = GalleryIndex(timeout=0.2)
        assert "database is locked" in index.notes[0] and "moved aside" in index.notes[0]
        assert _paths(index.search()) == sorted(made["ddim"] + made["euler"])
    finally:
        holder.close()


def test_files_gone_or_changed_outside_the_app(made):
    index = GalleryIndex()
    os.unlink(made["ddim"][0])
    assert _paths(index.search()) == sorted(made["ddim"][1:] + made["euler"])
    assert index.get(made["ddim"][0]) is None  # dropped when the search met it
    report = index.add_folder(made["out"])
    assert report.removed == 0 and report.unchanged == 2


def test_queries_that_cannot_be_read_say_why():
    with pytest.raises(QueryError, match="seed: takes a whole number"):
        parse_query("seed:abc")
    with pytest.raises(QueryError, match="not a date"):
        parse_query("since:yesterday")
    assert parse_query('"red fox" model:dream').words == ["red fox"]


def test_cli_search_and_index(made, tmp_path, capsys):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _a1111_png(outside / "castle.png")
    (outside / "broken.png").write_bytes(b"not a png")
    assert main(["index", str(outside)]) == 0
    err = capsys.readouterr().err
    assert "1 added" in err and "1 skipped" in err and "broken.png" in err
    assert main(["search", "castle"]) == 0
    assert capsys.readouterr().out.split() == [str(outside / "castle.png")]
    assert main(["search", "--seed", "7", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["path"], r["seed"], r["scheduler"], r["steps"]) for r in rows] == [(made["ddim"][0], 7, "ddim", 2)]
    assert {"path", "prompt", "seed", "model", "scheduler", "steps"} <= set(rows[0])
    assert main(["search", "--model", "tiny", "--since", "2000-01-01"]) == 0
    assert sorted(capsys.readouterr().out.split()) == sorted(made["ddim"] + made["euler"])


def test_a_database_torn_past_its_header_is_rebuilt_when_a_search_meets_the_damage(made):
    index = GalleryIndex()
    fake = [{**index.get(made["ddim"][0]), "path": f"/nowhere/{n}.png", "prompt": f"filler {n}"} for n in range(3000)]
    index._write(fake)
    index.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.close()
    size = index.path.stat().st_size
    with open(index.path, "r+b") as damaged:  # the first page (the header, the schema) stays good
        damaged.seek(4096)
        damaged.write(b"\xde\xad" * ((size - 8192) // 2))
    again = GalleryIndex()
    assert _paths(again.search("seed:7")) == [made["ddim"][0]]
    assert again.notes and "malformed" in again.notes[0] and "moved aside" in again.notes[0]
    assert _paths(again.search()) == sorted(made["ddim"] + made["euler"])  # every picture back; the filler had none


def test_search_words_as_artists_type_them(data_home, tmp_path):
    folder = tmp_path / "words"
    folder.mkdir()
    for name, prompt, sampler in (("a.png", "an artist's red fox", "DPM++ 2M Karras"), ("b.png", "a red cat",
                                                                                          "Euler a")):
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", f"{prompt}\nSteps: {20 if name == 'a.png' else 30}, Sampler: {sampler}, "
                                    "CFG scale: 7, Seed: 1, Size: 64x64, Model: m")
        Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / name, pnginfo=info)
    index = GalleryIndex()
    index.add_folder(folder)
    a, b = str(folder / "a.png"), str(folder / "b.png")
    assert _paths(index.search("artist's")) == [a]  # an apostrophe is a letter
    assert _paths(index.search('"red fox')) == [a]  # an open quote runs to the end
    assert _paths(index.search("red -fox")) == [b] and _paths(index.search("-cat")) == [a]
    assert _paths(index.search("steps:30")) == [b]
    assert _paths(index.search("sampler:dpm++2m-karras")) == [a]  # A1111 before 1.9 wrote "DPM++ 2M Karras"
    index.set_tags(a, ["reddish"])
    index.set_tags(b, ["red", "keeper"])
    assert _paths(index.search("tag:red")) == [b]  # a whole tag, not part of one
