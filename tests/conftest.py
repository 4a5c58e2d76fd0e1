"""Test set-up: offscreen Qt, no network (any outgoing connection fails the test), tiny real models."""

from __future__ import annotations

import os
import tempfile

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["HF_HUB_OFFLINE"] = "1"
# an empty Hugging Face cache of our own: what the developer has cached must not change what a test sees
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="ddpm-studio-test-hf-")
os.environ["HF_HUB_CACHE"] = os.path.join(os.environ["HF_HOME"], "hub")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ["DDPM_STUDIO_CACHE"] = tempfile.mkdtemp(prefix="ddpm-studio-test-cache-")  # file hashes, never the user's
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="ddpm-studio-test-data-")  # the gallery index, never the user's

import socket  # noqa: E402

import pytest  # noqa: E402

_attempts: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(sock: socket.socket, address) -> bool:
    if sock.family == getattr(socket, "AF_UNIX", None):
        return True
    host = address[0] if isinstance(address, tuple) else str(address)
    return host in {"127.0.0.1", "::1", "localhost", "0.0.0.0"} or str(host).startswith("127.")


def _guarded_connect(self, address):
    if not _is_local(self, address):
        _attempts.append(repr(address))
        raise ConnectionRefusedError(f"tests may not use the network (tried {address!r})")
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    if not _is_local(self, address):
        _attempts.append(repr(address))
        return 111
    return _real_connect_ex(self, address)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex


@pytest.fixture(autouse=True)
def no_network():
    """Fail any test that tried to connect out, even if the code under test swallowed the error."""
    before = len(_attempts)
    yield
    tried = _attempts[before:]
    if tried:
        pytest.fail(f"test tried to reach the network: {', '.join(tried)}")


@pytest.fixture(scope="session")
def tiny_ddpm_dir(tmp_path_factory):
    """A real (random-weight) DDPM pipeline folder: UNet2DModel 16×16 with attention + DDPMScheduler."""
    from tests.tiny_models import save_tiny_ddpm

    return save_tiny_ddpm(tmp_path_factory.mktemp("models") / "tiny-ddpm")


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    """An empty Hugging Face cache of this test's own (the session's may hold what other tests put there), offline."""
    import huggingface_hub

    cache = tmp_path / "empty-hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    return cache


@pytest.fixture()
def isolated_settings(tmp_path, monkeypatch):
    """Settings file and output folder under tmp, never the user's."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("DDPM_STUDIO_SETTINGS", str(path))
    return path


@pytest.fixture()
def qloop(qapp):
    """The app's qasync event loop, as run_app sets it up."""
    import asyncio

    import qasync

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture()
def make_window(qtbot, qloop):
    """Open a real MainWindow on given Settings, wait for its sampler; close it (and check the thread ended) after."""
    from ddpm_studio.ui.app.main_window import MainWindow

    windows = []

    def make(settings):
        window = MainWindow(settings=settings, device="cpu")
        qtbot.addWidget(window)
        window.show()
        with qtbot.waitSignal(window.sampler.backend_ready, timeout=60000):
            window.start_backend()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.quit_guard.quitting = True  # the test is over: quit without asking, whatever still runs
        window.close()
        assert window.sampler.wait(30000)


@pytest.fixture()
def window_on(make_window, tmp_path):
    """``window_on(folder)``: a real MainWindow whose settings list ``folder``'s models and save under tmp."""
    from ddpm_studio.ui.core.settings import Settings

    def make(folder):
        settings = Settings(tmp_path / "settings.ini")
        settings.output_dir = str(tmp_path / "out")
        settings.add_model_folder(str(folder))
        return make_window(settings)

    return make
