"""Gallery rows from other tools' PNGs, for the fields the gallery searches (prompt, negative, seed, model, sampler,
steps, guidance). No maintained parser of these is among the packages we can use, so the two layouts are read
here, from what the tools document and write:

- ComfyUI: a ``prompt`` text chunk holding the graph that ran (node id → ``class_type`` and ``inputs``; an input
  wired to another node is ``[node id, output]``). The first KSampler (or KSamplerAdvanced) gives seed, steps,
  cfg, sampler and scheduler; its ``positive`` and ``negative`` inputs are followed back to the nodes with a
  ``text`` (CLIPTextEncode and its kin), its ``model`` back to a loader's ``ckpt_name`` / ``unet_name``.
- InvokeAI (3 and later): an ``invokeai_metadata`` JSON chunk with ``positive_prompt``, ``negative_prompt``,
  ``seed``, ``model`` (a name or a record), ``scheduler``, ``steps``, ``cfg_scale``.

Sampler names become ours where there is one (``euler_ancestral`` → ``euler-a``, ``dpmpp_2m`` + ``karras`` →
``dpm++2m-karras``), else they are kept as the tool wrote them. No Qt.
"""

from __future__ import annotations

from pathlib import Path

from ddpm_studio.engine.gallery.values import MAX_SQLITE_INT, as_float, as_int
from ddpm_studio.engine.png.reading import NestedTooDeeply, UnreadablePng, load_json

COMFY_SAMPLERS = {"euler": "euler", "euler_ancestral": "euler-a", "ddim": "ddim", "ddpm": "ddpm", "dpmpp_2m": "dpm++2m",
                  "uni_pc": "unipc", "uni_pc_bh2": "unipc", "lms": "lms", "heun": "heun", "dpm_2": "dpm2",
                  "lcm": "lcm"}
INVOKE_SAMPLERS = {"ddim": "ddim", "ddpm": "ddpm", "euler": "euler", "euler_a": "euler-a", "dpmpp_2m": "dpm++2m",
                   "dpmpp_2m_k": "dpm++2m-karras", "unipc": "unipc", "lms": "lms", "heun": "heun", "kdpm_2": "dpm2",
                   "pndm": "pndm", "lcm": "lcm"}
SAMPLER_NODES = ("KSampler", "KSamplerAdvanced")
FOLLOW = 12  # links followed back from a sampler's input before giving up (a loop, a very long chain)


def foreign_row(text: dict[str, str], path: str | Path = "", problems: list[str] | None = None) -> dict | None:
    """The searchable fields of another tool's PNG from its text chunks; None when it is none of these (or its
    text is nested too deeply to read: said in ``problems``)."""
    try:
        if "invokeai_metadata" in text:
            return _invokeai(load_json(text["invokeai_metadata"], path, "its InvokeAI metadata"))
        if "prompt" in text:
            return _comfyui(load_json(text["prompt"], path, "its ComfyUI graph"))
    except NestedTooDeeply as exc:
        if problems is not None:
            problems.append(f"{str(exc)[:-1]}; indexed without it.")
    except UnreadablePng:
        pass  # not JSON: a "prompt" chunk of a tool other than ComfyUI
    return None


def _seed(value) -> int | None:  # ComfyUI's go to 2**64 − 1: larger than SQLite stores ones are left out
    seed = as_int(value)
    return seed if seed is not None and 0 <= seed <= MAX_SQLITE_INT else None


def _invokeai(data) -> dict | None:
    if not isinstance(data, dict):
        return None
    model = data.get("model")
    if isinstance(model, dict):
        model = model.get("name") or model.get("model_name") or model.get("key")
    scheduler = str(data.get("scheduler") or "")
    return dict(source="invokeai", kind=str(data.get("generation_mode") or "txt2img"), model=str(model or ""),
                prompt=str(data.get("positive_prompt") or ""), negative=str(data.get("negative_prompt") or ""),
                seed=_seed(data.get("seed")), scheduler=INVOKE_SAMPLERS.get(scheduler, scheduler or None),
                steps=as_int(data.get("steps")), guidance=as_float(data.get("cfg_scale")))


def _comfyui(graph) -> dict | None:
    if not isinstance(graph, dict):
        return None
    nodes = {key: node for key, node in graph.items()
             if isinstance(node, dict) and isinstance(node.get("inputs"), dict)}
    sampler = next((n for n in nodes.values() if n.get("class_type") in SAMPLER_NODES), None)
    if sampler is None:
        return None
    inputs = sampler["inputs"]
    name, schedule = str(inputs.get("sampler_name") or ""), str(inputs.get("scheduler") or "")
    ours = COMFY_SAMPLERS.get(name)
    if ours == "dpm++2m" and schedule == "karras":
        ours = "dpm++2m-karras"
    model = _follow(nodes, inputs.get("model"), ("ckpt_name", "unet_name"))
    return dict(source="comfyui", kind="txt2img", model=Path(model).stem if model else "",
                prompt=_follow(nodes, inputs.get("positive"), ("text", "text_g")) or "",
                negative=_follow(nodes, inputs.get("negative"), ("text", "text_g")) or "",
                seed=_seed(inputs.get("seed", inputs.get("noise_seed"))), scheduler=ours or name or None,
                steps=as_int(inputs.get("steps")), guidance=as_float(inputs.get("cfg")))


def _follow(nodes: dict, link, keys: tuple[str, ...]) -> str | None:
    """The first string input named one of ``keys`` on the way back along ``link`` (breadth first)."""
    queue, seen = [link], set()
    while queue and len(seen) < FOLLOW:
        current = queue.pop(0)
        if not (isinstance(current, list) and current and str(current[0]) in nodes):
            continue
        key = str(current[0])
        if key in seen:
            continue
        seen.add(key)
        inputs = nodes[key]["inputs"]
        for name in keys:
            if isinstance(inputs.get(name), str):
                return inputs[name]
        queue += [value for value in inputs.values() if isinstance(value, list)]
    return None
