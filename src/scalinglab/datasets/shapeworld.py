"""The shape world: a seeded procedural image-caption generator (numpy only, no download).

Every sample is a 32 x 32 RGB scene of 1 to ``max_objects`` objects on a noisy background, each
with a shape, a colour, a size, a texture and a position, plus clutter (coloured specks that no
caption mentions) and occlusion (objects overlap; larger ones are drawn first). Its caption is
built from a small grammar and names what a contrastive or captioning model must see::

    a picture of a large striped red circle left of two blue squares and a small green ring

What makes it deep enough for a ladder of tiny models (a first prototype of 1-2 plain objects was
solved by a 225k-parameter CLIP in 100 s):

* **Binding.** Colour and shape are named together; a model that sees "red" and "circle" somewhere
  in the image cannot tell "a red circle and a blue square" from "a blue circle and a red square".
* **Partial captions** (optional). A group's colour goes unnamed with probability ``omit_colour``
  ("a circle left of a red square"), as alt-texts leave out attributes, so colours alone no longer
  pick the right caption out of a batch. Off by default: at the demo's budgets it made every
  metric worse (docs/language-vision.md, "How the world's difficulty was chosen").
* **Relations and counts.** Consecutive groups are related by their centres ("left of", "right
  of", "above", "below"); objects of the same colour and shape are counted ("three green rings").
* **Long tail.** Shapes and colours follow a Zipf law (``p_k ~ 1 / k**zipf_exponent`` by their
  order in :data:`SHAPES` and :data:`COLOURS`): the rarest colour is seen ~8x less than the most
  common one, so zero-shot classification on a class-balanced test set keeps improving with data.
* **Clutter, noise, occlusion, small objects** make the easy pixels ambiguous.
* **Held-out combinations** (CLEVR CoGenT style, Johnson et al. 2017): one colour per shape
  (:meth:`WorldConfig.heldout_pairs`) never appears in the ``train``, ``val`` or ``test`` splits;
  the ``heldout`` split puts one in every scene, to measure compositional generalisation.

Access is random by ``(seed, step)`` for training (:func:`get_batch`; resume needs no sampler
state) and by ``(split, index)`` for the fixed evaluation splits (:func:`split_batch`, blocks of
:data:`BLOCK` scenes drawn from ``(split seed, block)``). Images are rendered by pasting
precomputed, anti-aliased sprites for the whole batch at once; captions are built per scene in
Python. ``benchmarks/lv_throughput.py`` measures the generator's share of a training step.

The word-level :class:`Vocabulary` is enumerated from the grammar, so every caption the world can
produce encodes without unknown words; it and the world's settings are recorded in
:func:`manifest`, whose SHA-256 (:func:`manifest_hash`) identifies the data of a run.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import numpy as np

from .._io import canonical_json
from ..config import from_dict
from ..errors import ConfigError, DataError

__all__ = [
    "BLOCK",
    "COLOURS",
    "PAD",
    "SHAPES",
    "SIZES",
    "SPLITS",
    "TEXTURES",
    "Batch",
    "Vocabulary",
    "WorldConfig",
    "caption_tokens",
    "caption_words",
    "classification_set",
    "describe",
    "get_batch",
    "group_words",
    "manifest",
    "manifest_hash",
    "relation",
    "render",
    "sample_scenes",
    "split_batch",
]

GENERATOR_VERSION = 1            # bump whenever a change alters any generated sample
BLOCK = 256                      # evaluation splits are drawn in blocks of this many scenes

SHAPES = ("square", "circle", "triangle", "diamond", "cross", "ring", "oval", "frame")
PLURALS = {"square": "squares", "circle": "circles", "triangle": "triangles",
           "diamond": "diamonds", "cross": "crosses", "ring": "rings", "oval": "ovals",
           "frame": "frames"}
# (name, RGB); order = Zipf rank (the first is the most common)
COLOURS = (("red", (220, 40, 40)), ("blue", (50, 80, 230)), ("green", (40, 190, 60)),
           ("yellow", (230, 220, 50)), ("white", (235, 235, 235)), ("cyan", (50, 210, 220)),
           ("magenta", (210, 50, 200)), ("orange", (245, 140, 30)), ("purple", (130, 60, 190)),
           ("pink", (250, 150, 180)))
SIZES = ("small", "medium", "large")           # "medium" is never said (the default size)
SIZE_RADII = ((2.4, 3.4), (3.8, 5.0), (5.4, 6.9))   # radius range in pixels per size
TEXTURES = ("plain", "striped", "dotted")        # "plain" is never said
COUNTS = ("one", "two", "three", "four", "five", "six")
RELATIONS = ("left of", "right of", "above", "below")
PREFIXES = ("", "a picture of", "there is", "an image of")
_COLOUR_NAMES = tuple(c for c, _ in COLOURS)
PAD, SOT, EOT, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<sot>", "<eot>", "<unk>")
SPLITS = {"val": 0x7A11D, "test": 0x7E57, "heldout": 0xC0637}   # fixed seeds of the fixed splits
_TRAIN_TAG = 0x5CA1AB1E
_R_STEPS = 6                     # radii per size level in the sprite table
_SPRITE = 15                     # sprite side (pixels): holds the largest radius
_HALF = _SPRITE // 2


@dataclass(frozen=True)
class WorldConfig:
    """How hard the world is. Every field changes the manifest hash."""

    image_size: int = 32            # pixels per side (square RGB images)
    n_shapes: int = 8               # the first n of SHAPES are used
    n_colours: int = 8              # the first n of COLOURS are used
    min_objects: int = 1            # objects per scene, drawn uniformly in [min, max]
    max_objects: int = 4
    zipf_exponent: float = 1.0      # p(k-th shape or colour) ~ 1 / k**zipf_exponent; 0 = uniform
    clutter: int = 6                # coloured specks per scene, uniform in [0, clutter]
    noise_std: float = 12.0         # per-pixel Gaussian noise, in 0-255 units
    colour_jitter: float = 14.0     # per-object RGB jitter (std), in 0-255 units
    holdout: bool = True            # hold out one colour per shape from train/val/test
    omit_colour: float = 0.0        # probability that a caption does not name a group's colour

    def __post_init__(self) -> None:
        checks = [("image_size", 16 <= self.image_size <= 256, "in [16, 256]"),
                  ("n_shapes", 2 <= self.n_shapes <= len(SHAPES), f"in [2, {len(SHAPES)}]"),
                  ("n_colours", 2 <= self.n_colours <= len(COLOURS), f"in [2, {len(COLOURS)}]"),
                  ("min_objects", 1 <= self.min_objects <= self.max_objects, "in [1, max_objects]"),
                  ("max_objects", self.max_objects <= len(COUNTS), f"<= {len(COUNTS)}"),
                  ("zipf_exponent", 0.0 <= self.zipf_exponent <= 4.0, "in [0, 4]"),
                  ("clutter", self.clutter >= 0, ">= 0"),
                  ("noise_std", self.noise_std >= 0, ">= 0"),
                  ("colour_jitter", self.colour_jitter >= 0, ">= 0"),
                  ("omit_colour", 0.0 <= self.omit_colour < 1.0, "in [0, 1)")]
        for name, ok, want in checks:
            if not ok:
                raise ConfigError(f"WorldConfig.{name} must be {want}; got {getattr(self, name)!r}")

    @property
    def shapes(self) -> tuple[str, ...]:
        return SHAPES[:self.n_shapes]

    @property
    def colours(self) -> tuple[str, ...]:
        return _COLOUR_NAMES[:self.n_colours]

    def heldout_pairs(self) -> tuple[tuple[int, int], ...]:
        """(shape, colour) index pairs that never appear in train/val/test.

        Shape ``s`` is held out with colour ``(3 s + 1) mod n_colours``: one colour per shape, and
        (for 8 x 8) each colour held out with exactly one shape, so every concept is still seen.
        """
        if not self.holdout:
            return ()
        return tuple((s, (3 * s + 1) % self.n_colours) for s in range(self.n_shapes))

    @property
    def context_length(self) -> int:
        """Longest caption in tokens, <sot> and <eot> included (the text context models need)."""
        return len(_longest_caption_words(self)) + 2

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> WorldConfig:
        return from_dict(cls, dict(data), where="world")


# --- vocabulary --------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Word-level tokenizer: ``<pad>=0, <sot>=1, <eot>=2, <unk>=3``, then the words.

    Captions are lower-cased and split on white space; a token sequence is
    ``<sot> w1 ... wn <eot>`` right-padded with ``<pad>`` to ``context_length``.
    """

    words: tuple[str, ...]
    index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if tuple(self.words[:len(SPECIALS)]) != SPECIALS:
            raise ConfigError(f"a vocabulary must start with {SPECIALS}")
        object.__setattr__(self, "index", {w: i for i, w in enumerate(self.words)})

    def __len__(self) -> int:
        return len(self.words)

    @classmethod
    def from_world(cls, world: WorldConfig) -> Vocabulary:
        return _world_vocabulary(world)

    @classmethod
    def build(cls, captions, *, max_words: int = 4096) -> Vocabulary:
        """A vocabulary of the ``max_words`` most frequent words of ``captions`` (ties by spelling)."""
        counts: dict[str, int] = {}
        for c in captions:
            for w in str(c).lower().split():
                counts[w] = counts.get(w, 0) + 1
        best = sorted(counts, key=lambda w: (-counts[w], w))[:max_words]
        return cls(SPECIALS + tuple(sorted(w for w in best if w not in SPECIALS)))

    def encode(self, text: str, context_length: int, *, where: str = "caption") -> np.ndarray:
        """Token ids ``(context_length,)`` int64; a caption that does not fit raises DataError."""
        ids = [self.index.get(w, UNK) for w in str(text).lower().split()]
        if len(ids) + 2 > context_length:
            raise DataError(f"{where}: the caption has {len(ids)} words, more than the context of "
                            f"{context_length} tokens allows ({context_length - 2} words plus <sot> "
                            f"and <eot>); shorten it or raise the model's context_length")
        out = np.zeros(context_length, dtype=np.int64)
        out[0], out[1:len(ids) + 1], out[len(ids) + 1] = SOT, ids, EOT
        return out

    def decode(self, ids) -> str:
        words = []
        for i in np.asarray(ids).tolist():
            if i == EOT:
                break
            if i not in (PAD, SOT):
                words.append(self.words[i])
        return " ".join(words)

    def to_dict(self) -> dict:
        return {"words": list(self.words)}

    @property
    def hash(self) -> str:
        return hashlib.sha256("\n".join(self.words).encode()).hexdigest()


def _grammar_words(world: WorldConfig) -> set[str]:
    words = {"a", "and"}
    for p in PREFIXES + RELATIONS:
        words.update(p.split())
    words.update(s for s in SIZES if s != "medium")
    words.update(t for t in TEXTURES if t != "plain")
    words.update(COUNTS[1:world.max_objects])
    for s in world.shapes:
        words.update((s, PLURALS[s]))
    words.update(world.colours)
    return words


@lru_cache(maxsize=16)
def _world_vocabulary(world: WorldConfig) -> Vocabulary:
    return Vocabulary(SPECIALS + tuple(sorted(_grammar_words(world))))


def _longest_caption_words(world: WorldConfig) -> list[str]:
    longest_prefix = max(PREFIXES, key=lambda p: len(p.split())).split()
    single = ["a", "small", "striped", "red", "circle"]          # 5 words per singleton group
    words = list(longest_prefix)
    for g in range(world.max_objects):
        if g % 2 == 1:
            words += ["left", "of"]
        elif g > 0:
            words += ["and"]
        words += single
    return words


# --- scenes ------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Batch:
    """A batch of scenes: images, caption tokens and the scene description behind them.

    ``images`` is ``(B, H, W, 3)`` uint8; ``tokens`` ``(B, context_length)`` int64. The scene
    arrays are ``(B, max_objects)``: ``shape``, ``colour``, ``size``, ``texture`` (indices into the
    world's lists, -1 where ``present`` is False) and integer centres ``x``, ``y``; ``prefix`` is
    ``(B,)`` and ``order`` ``(B, max_objects)`` the order in which groups are named.
    """

    images: np.ndarray
    tokens: np.ndarray
    scenes: dict

    def __len__(self) -> int:
        return len(self.images)


def _zipf(n: int, a: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** a
    return p / p.sum()


def sample_scenes(rng: np.random.Generator, n: int, world: WorldConfig, *,
                  split: str = "train", n_objects: int | None = None) -> dict:
    """Draw ``n`` scene descriptions (no pixels yet).

    ``split="heldout"`` forces object 0 of every scene to a held-out (shape, colour) pair; any
    other split redraws the colour of an object that would form one.
    """
    K, S = world.max_objects, world.image_size
    if n_objects is None:
        n_obj = rng.integers(world.min_objects, K + 1, size=n)
    else:
        n_obj = np.full(n, int(n_objects))
    present = np.arange(K)[None, :] < n_obj[:, None]
    shape = rng.choice(world.n_shapes, size=(n, K), p=_zipf(world.n_shapes, world.zipf_exponent))
    colour = rng.choice(world.n_colours, size=(n, K), p=_zipf(world.n_colours, world.zipf_exponent))
    held = world.heldout_pairs()
    if held:
        bad = np.zeros((world.n_shapes, world.n_colours), dtype=bool)
        for s, c in held:
            bad[s, c] = True
        # Redraw offending colours until none is held out (each shape has one held-out colour).
        for _ in range(8):
            hit = bad[shape, colour]
            if not hit.any():
                break
            colour[hit] = rng.choice(world.n_colours, size=int(hit.sum()),
                                     p=_zipf(world.n_colours, world.zipf_exponent))
        hit = bad[shape, colour]
        colour[hit] = (colour[hit] + 1) % world.n_colours      # rare: a deterministic way out
        if split == "heldout":
            pick = rng.integers(0, len(held), size=n)
            pairs = np.asarray(held)[pick]
            shape[:, 0], colour[:, 0] = pairs[:, 0], pairs[:, 1]
    size = rng.integers(0, len(SIZES), size=(n, K))
    radius_step = rng.integers(0, _R_STEPS, size=(n, K))
    texture = rng.choice(len(TEXTURES), size=(n, K), p=[0.5, 0.25, 0.25])
    lo, hi = np.asarray(SIZE_RADII)[size, 0], np.asarray(SIZE_RADII)[size, 1]
    radius = lo + (hi - lo) * radius_step / (_R_STEPS - 1)
    margin = np.ceil(radius).astype(np.int64)
    x = margin + (rng.random((n, K)) * (S - 2 * margin)).astype(np.int64)
    y = margin + (rng.random((n, K)) * (S - 2 * margin)).astype(np.int64)
    offset = rng.integers(0, 4, size=(n, K))                  # half-pixel sprite offsets
    rgb = np.asarray([c for _, c in COLOURS[:world.n_colours]], dtype=np.float32)[colour]
    rgb = rgb + rng.normal(0.0, world.colour_jitter, size=(n, K, 3)).astype(np.float32)
    order = np.argsort(rng.random((n, K)), axis=1)            # the order groups are named in
    say_colour = rng.random((n, K)) >= world.omit_colour      # is an object's colour named?
    prefix = rng.integers(0, len(PREFIXES), size=n)
    background = rng.uniform(0, 50, size=n).astype(np.float32)
    n_clutter = rng.integers(0, world.clutter + 1, size=n)
    clutter_rgb = rng.uniform(0, 255, size=(n, max(world.clutter, 1), 3)).astype(np.float32)
    clutter_xy = rng.integers(0, S - 1, size=(n, max(world.clutter, 1), 2))
    noise_seed = rng.integers(0, 2**63 - 1)
    neg = ~present
    for a in (shape, colour, size, texture, x, y):
        a[neg] = -1
    return {"present": present, "n_objects": n_obj, "shape": shape, "colour": colour,
            "size": size, "texture": texture, "x": x, "y": y, "say_colour": say_colour,
            "radius_step": radius_step,
            "offset": offset, "rgb": rgb, "order": order, "prefix": prefix,
            "background": background, "n_clutter": n_clutter, "clutter_rgb": clutter_rgb,
            "clutter_xy": clutter_xy, "noise_seed": noise_seed}


# --- rendering ---------------------------------------------------------------------------------

def _shape_mask(name: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    ax, ay = np.abs(dx), np.abs(dy)
    d2 = dx * dx + dy * dy
    if name == "square":
        return np.maximum(ax, ay) <= 0.85 * r
    if name == "circle":
        return d2 <= r * r
    if name == "triangle":     # pointing up; y grows downwards
        return (dy <= 0.8 * r) & (dy >= -r) & (ax <= (dy + r) * 0.62)
    if name == "diamond":
        return ax + ay <= 1.1 * r
    if name == "cross":
        w = max(0.3 * r, 0.75)
        return ((ax <= w) & (ay <= r)) | ((ay <= w) & (ax <= r))
    if name == "ring":
        return (d2 <= r * r) & (d2 >= (0.55 * r) ** 2)
    if name == "oval":         # wide ellipse
        return (dx / r) ** 2 + (dy / (0.55 * r)) ** 2 <= 1.0
    if name == "frame":        # hollow square
        m = np.maximum(ax, ay)
        return (m <= 0.85 * r) & (m >= 0.5 * r)
    raise AssertionError(name)


@lru_cache(maxsize=4)
def _sprites() -> np.ndarray:
    """Coverage alpha ``(shape, size, radius step, offset, 15, 15)``, 4x4 supersampled."""
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    grid = np.arange(_SPRITE) - _HALF
    out = np.zeros((len(SHAPES), len(SIZES), _R_STEPS, 4, _SPRITE, _SPRITE), dtype=np.float32)
    for si, name in enumerate(SHAPES):
        for zi, (lo, hi) in enumerate(SIZE_RADII):
            for ri in range(_R_STEPS):
                r = lo + (hi - lo) * ri / (_R_STEPS - 1)
                for oi in range(4):
                    ox, oy = 0.5 * (oi % 2), 0.5 * (oi // 2)
                    yy = grid[:, None, None, None] + sub[None, None, :, None] - oy
                    xx = grid[None, :, None, None] + sub[None, None, None, :] - ox
                    m = _shape_mask(name, xx + 0 * yy, yy + 0 * xx, r)
                    out[si, zi, ri, oi] = m.mean(axis=(2, 3))
    return out


@lru_cache(maxsize=2)
def _textures() -> np.ndarray:
    """Brightness factor per texture ``(3, 15, 15)``: plain, diagonal stripes, dots."""
    i, j = np.meshgrid(np.arange(_SPRITE), np.arange(_SPRITE), indexing="ij")
    plain = np.ones((_SPRITE, _SPRITE), np.float32)
    striped = np.where((i + j) % 3 == 0, 0.3, 1.0).astype(np.float32)
    dotted = np.where((i % 2 == 0) & (j % 2 == 0), 1.0, 0.45).astype(np.float32)
    return np.stack([plain, striped, dotted])


def render(scenes: dict, world: WorldConfig) -> np.ndarray:
    """Pixels ``(B, H, W, 3)`` uint8 of scene descriptions from :func:`sample_scenes`."""
    S, K = world.image_size, world.max_objects
    n = len(scenes["present"])
    P = _HALF
    canvas = np.empty((n, S + 2 * P, S + 2 * P, 3), dtype=np.float32)
    canvas[:] = scenes["background"][:, None, None, None]
    sprites, textures = _sprites(), _textures()
    ar = np.arange(_SPRITE)
    # Large objects first, so small ones stay visible (occlusion among similar sizes remains).
    radius_key = np.where(scenes["present"], scenes["size"] * _R_STEPS + scenes["radius_step"], -1)
    draw_order = np.argsort(-radius_key, axis=1, kind="stable")
    for k in range(K):
        slot = draw_order[:, k]
        b = np.nonzero(scenes["present"][np.arange(n), slot])[0]
        if not len(b):
            continue
        sl = slot[b]
        alpha = sprites[scenes["shape"][b, sl], scenes["size"][b, sl], scenes["radius_step"][b, sl],
                        scenes["offset"][b, sl]][..., None]                    # (b, 15, 15, 1)
        tex = textures[scenes["texture"][b, sl]][..., None]
        colour = scenes["rgb"][b, sl][:, None, None, :] * tex                 # (b, 15, 15, 3)
        rows = (scenes["y"][b, sl])[:, None] + ar[None, :]                     # padded coords
        cols = (scenes["x"][b, sl])[:, None] + ar[None, :]
        idx = (b[:, None, None], rows[:, :, None], cols[:, None, :])
        patch = canvas[idx]
        canvas[idx] = patch + alpha * (colour - patch)
    img = canvas[:, P:P + S, P:P + S]
    if world.clutter:
        nc = scenes["n_clutter"]
        bi, ci = np.nonzero(np.arange(world.clutter)[None, :] < nc[:, None])
        xy = scenes["clutter_xy"][bi, ci]
        col = scenes["clutter_rgb"][bi, ci]
        for dy in (0, 1):
            for dx in (0, 1):
                img[bi, xy[:, 1] + dy, xy[:, 0] + dx] = col
    if world.noise_std:        # luminance noise (one value per pixel, all channels)
        noise = np.random.default_rng(int(scenes["noise_seed"])).standard_normal(
            img.shape[:3], dtype=np.float32)
        img += (world.noise_std * noise)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


# --- captions ----------------------------------------------------------------------------------

def describe(scenes: dict, i: int) -> list[dict]:
    """The groups of scene ``i`` in caption order.

    Objects of one colour and shape form a group: ``{"shape", "colour", "count", "say_colour",
    "size", "texture", "x", "y"}`` (size/texture only for singletons; x, y = mean centre;
    ``say_colour`` False: the caption names the group without its colour).
    """
    return _groups({k: scenes[k][i].tolist() for k in _SCENE_KEYS})


_SCENE_KEYS = ("order", "present", "shape", "colour", "size", "texture", "x", "y", "say_colour")


def _groups(sc: dict) -> list[dict]:
    groups: dict[tuple[int, int], list[int]] = {}
    for k in sc["order"]:
        if sc["present"][k]:
            groups.setdefault((sc["shape"][k], sc["colour"][k]), []).append(k)
    out = []
    for (s, c), ks in groups.items():
        n = len(ks)
        g = {"shape": s, "colour": c, "count": n, "say_colour": sc["say_colour"][ks[0]],
             "x": sum(sc["x"][k] for k in ks) / n, "y": sum(sc["y"][k] for k in ks) / n}
        if n == 1:
            g["size"], g["texture"] = sc["size"][ks[0]], sc["texture"][ks[0]]
        out.append(g)
    return out


def relation(a: dict, b: dict) -> str:
    """Where group ``a`` lies relative to ``b``: the dominant axis of their centres (y down)."""
    dx, dy = a["x"] - b["x"], a["y"] - b["y"]
    if abs(dx) >= abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def group_words(g: dict, world: WorldConfig) -> list[str]:
    colour = [world.colours[g["colour"]]] if g.get("say_colour", True) else []
    shape = world.shapes[g["shape"]]
    if g["count"] > 1:
        return [COUNTS[g["count"] - 1], *colour, PLURALS[shape]]
    words = ["a"]
    if SIZES[g["size"]] != "medium":
        words.append(SIZES[g["size"]])
    if TEXTURES[g["texture"]] != "plain":
        words.append(TEXTURES[g["texture"]])
    return words + colour + [shape]


def caption_words(groups: list[dict], world: WorldConfig, prefix: int = 0,
                  relations: list[str] | None = None) -> list[str]:
    """Words of a caption: ``prefix G1 rel G2 and G3 rel G4 ...``.

    ``relations[j]`` (default: computed) relates group ``2j`` to group ``2j + 1``.
    """
    words = PREFIXES[prefix].split()
    for gi, g in enumerate(groups):
        if gi % 2 == 1:
            rel = relations[gi // 2] if relations is not None else relation(groups[gi - 1], g)
            words += rel.split()
        elif gi > 0:
            words.append("and")
        words += group_words(g, world)
    return words


def caption_tokens(scenes: dict, world: WorldConfig, vocab: Vocabulary | None = None) -> np.ndarray:
    """Token ids ``(B, context_length)`` of the scenes' captions."""
    vocab = vocab or Vocabulary.from_world(world)
    L = world.context_length
    n = len(scenes["present"])
    out = np.zeros((n, L), dtype=np.int64)
    index = vocab.index
    cols = {k: scenes[k].tolist() for k in _SCENE_KEYS}
    prefixes = scenes["prefix"].tolist()
    for i in range(n):
        groups = _groups({k: cols[k][i] for k in _SCENE_KEYS})
        ids = [index[w] for w in caption_words(groups, world, prefixes[i])]
        out[i, 0] = SOT
        out[i, 1:len(ids) + 1] = ids
        out[i, len(ids) + 1] = EOT
    return out


def _batch(rng: np.random.Generator, n: int, world: WorldConfig, split: str,
           n_objects: int | None = None) -> Batch:
    scenes = sample_scenes(rng, n, world, split=split, n_objects=n_objects)
    return Batch(images=render(scenes, world), tokens=caption_tokens(scenes, world), scenes=scenes)


def get_batch(world: WorldConfig, *, step: int, seed: int, batch_size: int) -> Batch:
    """The training batch of update ``step``: drawn from ``(seed, step)`` alone.

    Training scenes never contain a held-out (shape, colour) pair.
    """
    rng = np.random.default_rng([int(seed), _TRAIN_TAG, int(step)])
    return _batch(rng, batch_size, world, "train")


def _block(world: WorldConfig, split: str, block: int) -> Batch:
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; use one of {', '.join(SPLITS)} "
                          "(training batches come from get_batch)")
    rng = np.random.default_rng([SPLITS[split], int(block)])
    return _batch(rng, BLOCK, world, split)


def split_batch(world: WorldConfig, split: str, start: int, n: int) -> Batch:
    """Scenes ``start .. start + n - 1`` of a fixed split (``val``, ``test``, ``heldout``).

    Scene ``i`` is scene ``i % BLOCK`` of block ``i // BLOCK``, drawn from the split's fixed seed
    and the block number: the same index always gives the same scene, whatever else is read.
    """
    if start < 0 or n < 0:
        raise ConfigError(f"split_batch needs start >= 0 and n >= 0; got {start}, {n}")
    parts = []
    for blk in range(start // BLOCK, (start + n + BLOCK - 1) // BLOCK):
        b = _block(world, split, blk)
        lo = max(start, blk * BLOCK) - blk * BLOCK
        hi = min(start + n, (blk + 1) * BLOCK) - blk * BLOCK
        parts.append((b, lo, hi))
    return _concat([(b, slice(lo, hi)) for b, lo, hi in parts])


def _concat(parts) -> Batch:
    images = np.concatenate([b.images[s] for b, s in parts])
    tokens = np.concatenate([b.tokens[s] for b, s in parts])
    keys = [k for k, v in parts[0][0].scenes.items() if isinstance(v, np.ndarray)]
    scenes = {k: np.concatenate([b.scenes[k][s] for b, s in parts]) for k in keys}
    return Batch(images=images, tokens=tokens, scenes=scenes)


def classification_set(world: WorldConfig, *, split: str = "test", n_per_class: int = 8,
                       canonical: bool = True) -> tuple[Batch, np.ndarray, list[tuple[int, int]]]:
    """Single-object scenes, class-balanced, for zero-shot classification of (colour, shape).

    Returns ``(batch, labels, classes)``: ``classes`` lists every (shape, colour) pair of the
    world (the classifier always chooses among all of them); ``split="test"`` draws the pairs
    seen in training, ``split="heldout"`` only the held-out pairs (compositional generalisation).
    Each image has one object at a random position plus clutter and noise; ``canonical=True``
    (the default, like the centred, typical views of a classification benchmark) draws it at
    medium size and plain texture, so the class prompt ``"a red circle"`` is the whole caption a
    training scene of that object would have; ``canonical=False`` draws size and texture at random.
    """
    classes = [(s, c) for s in range(world.n_shapes) for c in range(world.n_colours)]
    held = set(world.heldout_pairs())
    if split == "test":
        wanted = [i for i, p in enumerate(classes) if p not in held]
    elif split == "heldout":
        if not held:
            raise ConfigError("this world holds no pairs out (holdout=False); use split='test'")
        wanted = [i for i, p in enumerate(classes) if p in held]
    else:
        raise ConfigError(f"classification split must be 'test' or 'heldout'; got {split!r}")
    rng = np.random.default_rng([SPLITS[split], 0xC1A55])
    labels = np.repeat(np.asarray(wanted), n_per_class)
    scenes = sample_scenes(rng, len(labels), world, split="test", n_objects=1)
    pairs = np.asarray(classes)[labels]
    scenes["shape"][:, 0], scenes["colour"][:, 0] = pairs[:, 0], pairs[:, 1]
    if canonical:
        scenes["size"][:, 0], scenes["texture"][:, 0] = SIZES.index("medium"), 0
    scenes["rgb"][:, 0] = (np.asarray([c for _, c in COLOURS[:world.n_colours]], np.float32)[pairs[:, 1]]
                           + rng.normal(0, world.colour_jitter, size=(len(labels), 3)).astype(np.float32))
    batch = Batch(images=render(scenes, world), tokens=caption_tokens(scenes, world), scenes=scenes)
    return batch, labels, classes


# --- manifest ----------------------------------------------------------------------------------

def manifest(world: WorldConfig) -> dict:
    """What identifies the world's data: generator version, settings, vocabulary, split seeds."""
    vocab = Vocabulary.from_world(world)
    return {"generator": "shapeworld", "version": GENERATOR_VERSION, "world": world.to_dict(),
            "image_size": world.image_size, "context_length": world.context_length,
            "heldout_pairs": [list(p) for p in world.heldout_pairs()],
            "split_seeds": dict(SPLITS), "block": BLOCK,
            "vocabulary": list(vocab.words), "vocabulary_hash": vocab.hash}


def manifest_hash(world: WorldConfig) -> str:
    """SHA-256 of the canonical JSON of :func:`manifest`."""
    return hashlib.sha256(canonical_json(manifest(world)).encode()).hexdigest()

