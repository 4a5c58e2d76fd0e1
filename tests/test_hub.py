"""Downloads from the Hub, against a fake hub on 127.0.0.1 (the socket guard still refuses the real one)."""

from __future__ import annotations

import json
import shutil

import pytest

from ddpm_studio.engine.models.catalogue import ModelError, inspect_model
from ddpm_studio.engine.models.hub import DownloadCancelled, HubError, download, plan_download
from tests.fake_hub import FakeHub
from tests.tiny_sd import save_tiny_sd


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    sd = save_tiny_sd(root / "sd", "txt2img")
    # what real repos also carry, and a download must leave out
    (sd / "unet" / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"\0" * 64)
    (sd / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\0" * 64)
    (sd / "v1-5-pruned.ckpt").write_bytes(b"\0" * 64)
    (sd / "safety_checker").mkdir()
    (sd / "safety_checker" / "model.safetensors").write_bytes(b"\0" * 64)
    (sd / "unet_ema").mkdir()  # a folder that is not one of the pipeline's components
    (sd / "unet_ema" / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 64)
    pickled = root / "pickled"
    shutil.copytree(sd, pickled)
    (pickled / "vae" / "diffusion_pytorch_model.safetensors").rename(pickled / "vae" / "diffusion_pytorch_model.bin")
    tokenizer = root / "clip"
    tokenizer.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(root / ".sd-parts" / "tokenizer-src" / name, tokenizer / name)
    (tokenizer / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 77}))
    (tokenizer / "pytorch_model.bin").write_bytes(b"\0" * 64)
    return {"tiny/sd": sd, "tiny/pickled": pickled, "openai/clip-vit-large-patch14": tokenizer}


@pytest.fixture()
def hub(repos):
    server = FakeHub(repos)
    yield server
    server.close()


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    import huggingface_hub.constants

    folder = tmp_path / "hf-cache"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(folder))
    return folder


def test_plan_takes_only_what_a_pipeline_needs(hub):
    plan = plan_download("tiny/sd", endpoint=hub.url)
    names = [name for name, _ in plan.files]
    assert plan.kind == "pipeline" and names[-1] == "model_index.json"
    assert "unet/diffusion_pytorch_model.safetensors" in names and "vae/diffusion_pytorch_model.safetensors" in names
    assert not [n for n in names if n.endswith((".bin", ".ckpt")) or ".fp16." in n or n.startswith(("safety_checker", "unet_ema"))]
    assert plan.total_bytes == sum(size for _, size in plan.files) > 1_000_000


def test_download_progress_then_the_model_loads_offline(hub, cache):
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        inspect_model("tiny/sd")
    plan = plan_download("tiny/sd", endpoint=hub.url)
    seen = []
    folder = download(plan, lambda done, total, name: seen.append((done, total, name)), endpoint=hub.url)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen) and seen[-1][0] == seen[-1][1] == plan.total_bytes
    info = inspect_model("tiny/sd")
    assert str(info.path) == folder and info.modes == ("txt2img", "img2img", "inpaint", "outpaint")
    # a second download finds everything in the cache and fetches no file again
    gets = sum(r.startswith("GET /tiny/sd/resolve") for r in hub.requests)
    download(plan, lambda *a: None, endpoint=hub.url)
    assert sum(r.startswith("GET /tiny/sd/resolve") for r in hub.requests) == gets


def test_cancel_mid_file_leaves_no_listed_model(repos, cache):
    slow = FakeHub(repos, delay=0.05)
    try:
        plan = plan_download("tiny/sd", endpoint=slow.url)
        progress = []
        with pytest.raises(DownloadCancelled):
            download(plan, lambda d, t, n: progress.append(n), should_stop=lambda: len(progress) >= 3, endpoint=slow.url)
    finally:
        slow.close()
    assert len(progress) < 10
    with pytest.raises(ModelError, match="not in the local Hugging Face cache"):
        inspect_model("tiny/sd")  # model_index.json comes last: a cut-off download is never a listed pipeline


def test_pickle_only_weights_and_unknown_repos_are_refused_before_downloading(hub, cache):
    with pytest.raises(HubError, match="tiny/pickled: the weights in vae/ are pickle files only"):
        plan_download("tiny/pickled", endpoint=hub.url)
    with pytest.raises(HubError, match="Could not look up nobody/nothing"):
        plan_download("nobody/nothing", endpoint=hub.url)
    with pytest.raises(HubError, match="organisation/name"):
        plan_download("just-a-name", endpoint=hub.url)
    assert not [r for r in hub.requests if "resolve" in r and not r.endswith("/model_index.json")]  # no weights


def test_a_downloaded_tokenizer_wins_over_the_one_we_ship(hub, cache, repos, tmp_path, monkeypatch):
    from ddpm_studio.engine.runner import Engine
    from tests.ldm_checkpoint import save_config_folder, save_single_file

    configs = tmp_path / "configs"
    save_config_folder(repos["tiny/sd"], configs / "sd1")
    shutil.rmtree(configs / "sd1" / "tokenizer")
    monkeypatch.setenv("DDPM_STUDIO_CONFIGS", str(configs))
    checkpoint = save_single_file(repos["tiny/sd"], tmp_path / "model.safetensors")
    assert len(Engine(device="cpu").load(str(checkpoint), "txt2img").pipe.tokenizer) == 49408  # the one we ship

    plan = plan_download("openai/clip-vit-large-patch14", endpoint=hub.url)
    assert plan.kind == "tokenizer" and [n for n, _ in plan.files] == ["vocab.json", "merges.txt", "tokenizer_config.json"]
    download(plan, lambda *a: None, endpoint=hub.url)
    loaded = Engine(device="cpu").load(str(checkpoint), "txt2img")  # a cached tokenizer wins over the shipped one
    assert loaded.pipe.tokenizer.model_max_length == 77 and len(loaded.pipe.tokenizer) == 514


def test_download_dialog_from_the_gui(make_window, qtbot, tmp_path, hub, cache):
    from ddpm_studio.ui.core.settings import Settings

    window = make_window(Settings(tmp_path / "settings.ini"))
    dialog = window.open_download_dialog(endpoint=hub.url)
    dialog.repo_box.setCurrentText("tiny/sd")
    with qtbot.waitSignal(dialog.downloaded, timeout=60000):
        dialog.download_button.click()
    assert dialog.bar.value() == 1000 and "Downloaded tiny/sd" in dialog.status.text()
    panel = window.text2image_panel
    assert window.tabs.currentWidget() is panel and panel.model_box.currentData() == "tiny/sd"
    dialog.close()


def test_download_dialog_cancel(make_window, qtbot, tmp_path, repos, cache):
    """Cancel: the dialog says "Cancelled" and takes the next Download in the same step (it used to re-enable the
    button a moment later, and while its old thread was still alive a prompt second click was ignored)."""
    from ddpm_studio.ui.core.settings import Settings

    slow = FakeHub(repos, delay=0.2)
    try:
        window = make_window(Settings(tmp_path / "settings.ini"))
        dialog = window.open_download_dialog(endpoint=slow.url)
        said = []  # every message, with the state it was shown in
        show = dialog.status.setText
        dialog.status.setText = lambda text: (said.append((text, dialog.download_button.isEnabled(), dialog.running)),
                                              show(text))
        dialog.repo_box.setCurrentText("tiny/sd")
        dialog.download_button.click()
        qtbot.waitUntil(lambda: dialog.bar.value() > 0 or "of" in dialog.status.text(), timeout=30000)
        dialog.cancel_button.click()
        qtbot.waitUntil(lambda: "Cancelled" in dialog.status.text(), timeout=30000)
        cancelled = [state for state in said if state[0].startswith("Cancelled")]
        assert cancelled == [(cancelled[0][0], True, False)]  # shown with Download enabled, nothing running
        assert window.text2image_panel.model_box.findData("tiny/sd") < 0
        dialog.download_button.click()  # at once: it starts again
        assert dialog.running and said[-1][0] == "Looking up tiny/sd…"
        dialog.cancel_button.click()
        qtbot.waitUntil(lambda: not dialog.running, timeout=30000)
    finally:
        slow.close()


def test_no_network_is_said_in_words_not_errno(cache, monkeypatch):
    import socket

    from ddpm_studio.engine.models.hub import network_problem

    try:  # what an HTTP client raises when the name cannot be looked up: the socket's error, wrapped
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as inner:
            raise ConnectionError("Max retries exceeded with url: /api/models/x/y") from inner
    except ConnectionError as outer:
        message = network_problem(outer)
    assert message and "could not reach the Hub" in message and "Errno" not in message
    assert network_problem(ValueError("404 Client Error: Repository Not Found")) is None  # the Hub said no

    with socket.socket() as closed:  # a port on this machine that nothing listens on: refused at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "2")
    with pytest.raises(HubError) as refused:
        plan_download("tiny/sd", endpoint=f"http://127.0.0.1:{port}")
    assert "could not reach the Hub" in str(refused.value) and "Errno" not in str(refused.value)
