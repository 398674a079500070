"""Pseudo-label folders: a frame teacher's outputs, one lossless PNG per training image.

Layout (``hushframe label -o DIR``, and ``RUN/labels/<teacher>/`` inside a distill run)::

    DIR/labels.json      {"format", "teacher", "items": {image_id: {"label", "height", "width", "thumb"}}}
    DIR/<image_id>.png   the teacher's output for that image, same size, lossless

``image_id`` is a hash of the noisy image's pixels, so labels follow the images, not
their file names or order. Each PNG and then the index are written atomically after
every image: an interrupted labelling run continues where it stopped, and a finished
one costs nothing to "run" again. ``thumb`` (8x8 block means) lets another machine
whose JPEG decoder differs by a rounding step still find its images' labels.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np

from .kinds import TeacherKind, register_teacher_kind
from .spec import TeacherSpecError

FORMAT = "hushframe-labels/1"
INDEX = "labels.json"
THUMB = 8
THUMB_TOLERANCE = 1.0  # mean abs difference of thumbnails, 0-255 units, for a decode-mismatch match


def image_id(img: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(repr((img.shape, str(img.dtype))).encode())
    h.update(np.ascontiguousarray(img).data)
    return h.hexdigest()[:20]


def thumbnail(img: np.ndarray) -> list[float]:
    h, w = img.shape[:2]
    ys = np.linspace(0, h, THUMB + 1).astype(int)
    xs = np.linspace(0, w, THUMB + 1).astype(int)
    return [round(float(img[ys[i]:ys[i + 1], xs[j]:xs[j + 1]].mean()), 3) for i in range(THUMB) for j in range(THUMB)]


def _read_index(folder: Path) -> dict | None:
    p = folder / INDEX
    if not p.exists():
        return None
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TeacherSpecError(f"{p}: not a readable labels index ({e.__class__.__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("items"), dict):
        raise TeacherSpecError(f"{p}: not a hushframe labels index (format {FORMAT})")
    return doc


def write_labels(images, teacher, folder: Path, *, names=None, log=print) -> dict:
    """Label every image with ``teacher.label_image`` into ``folder``; resumes a partial folder.

    Returns the index. A folder holding another teacher's labels is refused.
    """
    from hushframe.core.atomic import write_json_atomic
    from hushframe.core.images import read_image, to_uint8, write_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    doc = _read_index(folder)
    if doc is not None and doc.get("teacher") != teacher.spec:
        raise TeacherSpecError(f"{folder}: holds labels of teacher {doc.get('teacher')!r}, not {teacher.spec!r}; "
                               f"choose another output folder")
    doc = doc or {"format": FORMAT, "teacher": teacher.spec, "items": {}}
    todo = []
    for i, img in enumerate(images):
        iid = image_id(img)
        item = doc["items"].get(iid)
        if item is None or not (folder / item["label"]).exists():
            todo.append((i, iid, img))
    if not todo:
        return doc
    teacher.check()
    done = len(images) - len(todo)
    if done:
        log(f"labels: {done} of {len(images)} images already labelled in {folder}, continuing")
    t0 = time.perf_counter()
    for n, (i, iid, img) in enumerate(todo, 1):
        label = teacher.label_image(img)
        name = f"{iid}.png"
        write_image(folder / name, label)
        # Read back once: a PNG that does not round-trip exactly is not a lossless label.
        if not np.array_equal(to_uint8(read_image(folder / name)), label):
            raise TeacherSpecError(f"{folder / name}: label did not round-trip losslessly")
        doc["items"][iid] = {"label": name, "height": int(img.shape[0]), "width": int(img.shape[1]),
                             "source": (names[i] if names else f"image {i + 1}"), "thumb": thumbnail(img)}
        write_json_atomic(folder / INDEX, doc)
        el = time.perf_counter() - t0
        log(f"labels: {teacher.spec} {done + n}/{len(images)} ({el / n:.1f} s per image)")
    return doc


def load_labels(images, folder: Path, *, warn=print) -> tuple[str, list[np.ndarray]]:
    """(teacher spec, one uint8 label per image) from a labels folder; every image must have one."""
    from hushframe.core.images import read_image, to_uint8

    folder = Path(folder)
    doc = _read_index(folder)
    if doc is None:
        raise TeacherSpecError(f"{folder}: no {INDEX} (write a labels folder with `hushframe label PHOTOS --teacher SPEC -o DIR`)")
    items = doc["items"]
    out, missing = [], []
    fuzzy = 0
    for i, img in enumerate(images):
        item = items.get(image_id(img))
        if item is None:
            item = _nearest(items, img)
            fuzzy += item is not None
        if item is None:
            missing.append(i + 1)
            out.append(None)
            continue
        lab = to_uint8(read_image(folder / item["label"]))
        if lab.shape != img.shape:
            raise TeacherSpecError(f"{folder / item['label']}: label is {lab.shape[1]}x{lab.shape[0]}, "
                                   f"its image {img.shape[1]}x{img.shape[0]}")
        out.append(lab)
    if missing:
        raise TeacherSpecError(f"{folder}: no label for {len(missing)} of {len(images)} training images "
                               f"(first: image {missing[0]} in load order); label the same photos with `hushframe label`")
    if fuzzy:
        warn(f"{folder}: {fuzzy} images matched their labels by thumbnail, not exact pixels (another JPEG decoder?)")
    return str(doc.get("teacher")), out


def _nearest(items: dict, img: np.ndarray):
    th = np.asarray(thumbnail(img))
    best, best_d = None, THUMB_TOLERANCE
    for item in items.values():
        if (item.get("height"), item.get("width")) != img.shape[:2] or "thumb" not in item:
            continue
        d = float(np.abs(np.asarray(item["thumb"]) - th).mean())
        if d < best_d:
            best, best_d = item, d
    return best


def _folder_exists(arg: str, whole: str) -> None:
    if not Path(arg).is_dir():
        raise TeacherSpecError(f"--teacher {whole!r}: {arg}: no such labels folder (write one with `hushframe label`)")


register_teacher_kind(TeacherKind(
    "labels", usage="labels:DIR", summary="pseudo-labels written by `hushframe label` (read, not run)", order=50,
    validate=_folder_exists))
