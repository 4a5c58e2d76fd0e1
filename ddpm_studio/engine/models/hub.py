"""Download from the Hugging Face Hub — only when the user asks — with byte progress and cancel.

What is fetched for a diffusers pipeline: its JSON/text files and, per component named in ``model_index.json``, the
plain ``.safetensors`` weights; never pickle formats, other variants (``*.fp16.safetensors``, ``*.non_ema.*``) when the
plain file exists, single-file copies at the top level, other folders, or the safety checker (DDPM Studio does not
load it). ``model_index.json`` comes
last, so a cancelled or failed download never shows up in the model list as a complete pipeline.

A repository without ``model_index.json`` that holds a CLIP tokenizer gets just the tokenizer files (single-file
checkpoints need one). Files land in the standard Hugging Face cache, where every other tool finds them too.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from ddpm_studio.engine.errors import first_line

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".msgpack", ".onnx", ".h5", ".ot", ".onnx_data", ".pb")
TEXT_SUFFIXES = (".json", ".txt", ".model", ".md")
SKIPPED_COMPONENTS = {"safety_checker"}
TOKENIZER_FILES = ("vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")

Progress = Callable[[int, int, str], None]  # bytes done, bytes in all, current file


class HubError(Exception):
    """The download cannot start or failed; the message is for the user."""


class DownloadCancelled(Exception):
    """The user cancelled; files already complete stay in the cache (a later download resumes)."""


@dataclass(frozen=True)
class DownloadPlan:
    repo_id: str
    revision: str  # the commit, so every file comes from the same one
    files: tuple[tuple[str, int], ...]  # (path in the repo, size in bytes), model_index.json last
    kind: str  # "pipeline" or "tokenizer"

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


def plan_download(repo_id: str, endpoint: str | None = None, token: str | None = None,
                  cache_dir: str | None = None) -> DownloadPlan:
    from huggingface_hub import HfApi

    repo_id = repo_id.strip()
    if not repo_id or repo_id.count("/") != 1:
        raise HubError(f"'{repo_id}' is not a Hub model id; it looks like organisation/name.")
    try:
        with _online():
            info = HfApi(endpoint=endpoint, token=token).model_info(repo_id, files_metadata=True)
    except Exception as exc:
        raise HubError(network_problem(exc) or f"Could not look up {repo_id} on the Hub: {first_line(exc)}") from None
    sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
    if "model_index.json" in sizes:
        components = _components(repo_id, info.sha or "main", endpoint, token, cache_dir)
        files, kind = _pipeline_files(repo_id, sizes, components), "pipeline"
    elif {"vocab.json", "merges.txt"} <= set(sizes) or "tokenizer.json" in sizes:
        files, kind = [f for f in TOKENIZER_FILES if f in sizes], "tokenizer"
    else:
        raise HubError(f"{repo_id} is not a diffusers pipeline (it has no model_index.json) and holds no tokenizer.")
    return DownloadPlan(repo_id, info.sha or "main", tuple((f, sizes[f]) for f in files), kind)


def _components(repo_id: str, revision: str, endpoint, token, cache_dir) -> set[str]:
    """The pipeline's component folders, from its model_index.json (fetched by commit: the cache does not call the
    model complete until the last file of the download is in, asked for as "main")."""
    import json

    from huggingface_hub import hf_hub_download

    try:
        with _online():
            path = hf_hub_download(repo_id, "model_index.json", revision=revision, endpoint=endpoint, token=token,
                                   cache_dir=cache_dir)
        index = json.loads(Path(path).read_text(encoding="utf-8"))
    except Exception as exc:
        raise HubError(f"Could not read {repo_id}'s model_index.json: {first_line(exc)}") from None
    return {name for name, entry in index.items() if isinstance(entry, list) and entry[0] is not None}


def _pipeline_files(repo_id: str, sizes: dict[str, int], components: set[str]) -> list[str]:
    chosen: list[str] = []
    by_folder: dict[str, list[str]] = {}
    for name in sizes:
        path = PurePosixPath(name)
        if len(path.parts) == 1:
            if path.suffix in (".json", ".txt", ".md") and name != "model_index.json":
                chosen.append(name)
            continue  # top-level weights are single-file copies of the same model
        if path.parts[0] in SKIPPED_COMPONENTS or path.parts[0] not in components:
            continue  # the safety checker DDPM Studio does not load; folders that are not the pipeline's
        by_folder.setdefault(str(path.parent), []).append(name)
    for folder, names in sorted(by_folder.items()):
        chosen.extend(n for n in names if PurePosixPath(n).suffix in TEXT_SUFFIXES)
        weights = [n for n in names if n.endswith(WEIGHT_SUFFIXES)]
        plain = [n for n in weights if n.endswith(".safetensors") and PurePosixPath(n).name.count(".") == 1]
        if plain:
            chosen.extend(plain)
        elif any(n.endswith(".safetensors") for n in weights):
            chosen.extend(n for n in weights if n.endswith(".safetensors") and ".fp16." in n)  # fp16-only repos
        elif weights:
            raise HubError(f"{repo_id}: the weights in {folder}/ are pickle files only; DDPM Studio downloads safetensors.")
    return sorted(chosen) + ["model_index.json"]


def download(plan: DownloadPlan, on_progress: Progress, should_stop: Callable[[], bool] = lambda: False,
             endpoint: str | None = None, cache_dir: str | None = None, token: str | None = None) -> str:
    """Fetch the plan's files into the HF cache; returns the snapshot folder. Raises DownloadCancelled on cancel."""
    from huggingface_hub import hf_hub_download

    done = 0
    lock = threading.Lock()

    class Bar:  # the minimal tqdm interface hf_hub_download drives, turned into our callback (and our cancel point)
        def __init__(self, *args, total=None, initial=0, **kwargs) -> None:
            self.n = initial

        def update(self, n=1) -> None:
            nonlocal done
            with lock:
                done += n or 0
            self.n += n or 0
            on_progress(done, plan.total_bytes, current)
            if should_stop():
                raise DownloadCancelled(f"Download of {plan.repo_id} cancelled.")

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            return None

        def close(self) -> None:
            pass

        def set_description(self, *args, **kwargs) -> None:
            pass

        def reset(self, total=None) -> None:
            pass

        def refresh(self) -> None:
            pass

    folder = current = ""
    try:
        for number, (current, size) in enumerate(plan.files, 1):
            if should_stop():
                raise DownloadCancelled(f"Download of {plan.repo_id} cancelled.")
            before = done
            # the last file is asked for as "main": only then does the cache record main → this commit, so the
            # model resolves offline by its id only once every file is in
            revision = "main" if number == len(plan.files) else plan.revision
            with _online():
                path = hf_hub_download(plan.repo_id, current, revision=revision, endpoint=endpoint, cache_dir=cache_dir,
                                       token=token, tqdm_class=Bar)
            done = before + size  # a file already in the cache counts as done
            on_progress(done, plan.total_bytes, current)
            folder = str(path)[: -len(current)].rstrip("/")
        if plan.revision != "main" and not folder.endswith(plan.revision):
            raise HubError(f"{plan.repo_id} changed on the Hub during the download; download it again.")
    except (DownloadCancelled, HubError):
        raise
    except Exception as exc:
        problem = network_problem(exc)
        raise HubError(f"Downloading {plan.repo_id} stopped at {current}: {problem} Files already complete stay in "
                       "the cache; downloading again resumes." if problem else
                       f"Downloading {plan.repo_id} failed at {current}: {first_line(exc)}") from None
    return folder


OFFLINE = ("This computer could not reach the Hub ({why}). Check the network connection (and a proxy, if you use "
           "one), or copy the model's folder here from another computer and add it with File → Add model folder….")
_NO_NAME = ("name or service not known", "temporary failure in name resolution", "failed to resolve",
            "nodename nor servname", "getaddrinfo failed", "no address associated")


def network_problem(exc: BaseException) -> str | None:
    """What to tell the user when ``exc`` (or an error it wraps) is the network failing, not the Hub saying no; None
    when it is something else. huggingface_hub and its HTTP client wrap the socket's error, so the chain is walked."""
    import socket

    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        text = str(error).lower()
        if isinstance(error, socket.gaierror) or any(words in text for words in _NO_NAME):
            return OFFLINE.format(why="its address could not be looked up: no network, or no name server")
        if isinstance(error, (ConnectionRefusedError, ConnectionResetError)) or "connection refused" in text:
            return OFFLINE.format(why="the connection was refused")
        if isinstance(error, (TimeoutError, socket.timeout)) or "timed out" in text:
            return OFFLINE.format(why="the connection timed out")
        if "network is unreachable" in text:
            return OFFLINE.format(why="the network is unreachable")
        pending += [e for e in (error.__cause__, error.__context__) if e is not None]
        pending += [a for a in getattr(error, "args", ()) if isinstance(a, BaseException)]
    return None


@contextmanager
def _online():
    """The user asked for this: lift HF_HUB_OFFLINE (which DDPM Studio may run under) for this call only."""
    import huggingface_hub.constants

    offline = huggingface_hub.constants.HF_HUB_OFFLINE
    huggingface_hub.constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        huggingface_hub.constants.HF_HUB_OFFLINE = offline

