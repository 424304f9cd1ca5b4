"""The Storyboard: what the director decided, in a form every engine renders and the plan endpoint serves."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Framings, from far to near, with the words a Chinese and an English script use for them.
WIDE, MEDIUM, CLOSE, CLOSE_UP, EXTREME_CLOSE_UP = "wide", "medium", "close", "close_up", "extreme_close_up"
FRAMING_NAMES = {WIDE: ("全景", "wide shot"), MEDIUM: ("中景", "medium shot"), CLOSE: ("近景", "close shot"),
                 CLOSE_UP: ("特写", "close-up"), EXTREME_CLOSE_UP: ("大特写", "extreme close-up")}  # fmt: skip
ANGLE_NAMES = {"eye": ("平视", "eye level"), "high": ("俯拍", "high angle"), "low": ("仰拍", "low angle"),
               "overhead": ("鸟瞰", "overhead"), "dutch": ("斜角", "dutch angle")}  # fmt: skip
CAMERA_NAMES = {"static": ("固定镜头", "static camera"), "push_in": ("镜头推进", "push in"),
                "pull_out": ("镜头拉远", "pull out"), "pan_left": ("镜头左摇", "pan left"),
                "pan_right": ("镜头右摇", "pan right"), "tilt_up": ("镜头上摇", "tilt up"),
                "tilt_down": ("镜头下摇", "tilt down"), "track": ("跟拍", "tracking shot"),
                "orbit": ("环绕拍摄", "orbit")}  # fmt: skip


@dataclass
class Background:
    """What a shot is set against: a reference used as a place, the first frame, a storyboard panel, or a
    neutral backdrop the engine generates."""

    kind: str  # "reference" | "first_frame" | "panel" | "generated"
    label: str | None = None  # the reference's label (kind "reference")
    panel: int | None = None  # 0-based panel index (kind "panel")


@dataclass
class Key:
    """One point of a placement's movement at shot time t (0..1), set by an action (actions.py). Between two
    keys the pose is eased from one to the other; before the first and after the last it holds. Where a key
    names another subject, the engine finds it where that subject is drawn at that moment, so that the frame's
    own size decides the pixels: `holder` (in that subject's hand), `on` (resting on its top), `near` (beside it
    on the `side` +1 right / -1 left, `gap` frame heights between the two outlines, negative to overlap, None
    for centred on it)."""

    t: float
    holder: str | None = None
    on: str | None = None
    near: str | None = None
    side: int = 1
    gap: float | None = 0.0
    drop: float = 0.0  # lowered by this share of its own height (sitting)
    tilt: float = 0.0  # degrees, counter-clockwise (lying down, leaning to point or wave, a guitar played)
    face: int = 0  # +1 faces right, -1 faces left (the cut-out is mirrored when it faces the other way), 0 as drawn


@dataclass
class Action:
    """What a subject does in a shot: `verb` (one of actions.VERBS), its `subject`, the `object` it handles (picks
    up, puts, gives, plays) and the `target` (where it is put, to whom it is given, what is sat on, walked to,
    hugged, pointed at, looked at), each a reference label or None; `start`/`end` in seconds of the video."""

    verb: str
    subject: str | None
    object: str | None = None
    target: str | None = None
    start: float = 0.0
    end: float = 0.0


@dataclass
class Placement:
    """Where a subject stands in a shot, in fractions of the frame: the centre of its feet (x, bottom) and its
    height. Close framings are taller than the frame (the subject is cut at the waist or chin). `depth` is
    "near", "middle" or "far" (already applied to the height and the feet). `motion` is "static",
    "walk_right"/"walk_left" (crossing the frame over the shot), "enter_left"/"enter_right" (coming in from
    that edge to x) or "leave_left"/"leave_right" (going out by that edge); `x_at` gives the path."""

    label: str
    x: float
    bottom: float
    height: float
    motion: str = "static"
    held_by: str | None = None  # the subject holding this one (a prop)
    depth: str = "middle"
    keys: list[Key] = field(default_factory=list)  # the movement its actions give it (empty: `motion` alone)
    drawn: str | None = None  # "table" | "chair": furniture with no reference, drawn by the engine itself

    def __post_init__(self) -> None:
        self.keys = [Key(**k) if isinstance(k, dict) else k for k in self.keys]  # a stored plan's keys

    def x_at(self, t: float) -> float:
        """The centre of the feet at shot time t (0..1): eased where it starts or stops."""
        if self.motion == "walk_right":
            return self.x - 0.25 + 0.5 * t
        if self.motion == "walk_left":
            return self.x + 0.25 - 0.5 * t
        if self.motion.startswith("enter_"):  # in over the first 40% of the shot, then stays
            outside = -0.3 if self.motion == "enter_left" else 1.3
            return outside + (self.x - outside) * ease(min(1.0, t / 0.4))
        if self.motion.startswith("leave_"):  # stays, then out over the last 40%
            outside = -0.3 if self.motion == "leave_left" else 1.3
            return self.x + (outside - self.x) * ease(max(0.0, (t - 0.6) / 0.4))
        return self.x


def ease(t: float) -> float:
    """Smoothstep on 0..1: starts and ends at rest. Every planned movement (subjects, camera) is eased."""
    t = min(1.0, max(0.0, t))
    return t * t * (3 - 2 * t)


@dataclass
class Line:
    """One line of dialogue, placed in time (seconds from the start of the video)."""

    speaker: str | None  # a reference label, or None when the prompt names no speaker
    text: str
    language: str  # "zh" | "en"
    start: float = 0.0
    end: float = 0.0
    rate: float = 1.0  # >1 when sped up to fit
    cut: bool = False  # no longer set (a line is never shortened); kept so that plans stored with it still load
    overrun: bool = False  # the line runs past the end of its shot (it could not fit in it)

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Role:
    """Who a reference is in the story, as the director read it (director/roles.py): a person or an object,
    and the gender and age its words give (for pronouns and for a default voice)."""

    label: str
    person: bool | None = None  # None: nothing tells
    gender: str | None = None  # "female" | "male"
    age: str | None = None  # "child" | "adult" | "old"
    evidence: str = ""  # what decided `person`: "prompt", "video", "voice", "picture", "speaker", "object", ...


@dataclass
class Shot:
    index: int
    text: str  # the part of the prompt this shot stages
    start: float = 0.0
    end: float = 0.0
    framing: str = MEDIUM
    angle: str = "eye"
    camera: str = "static"
    subjects: list[str] = field(default_factory=list)  # reference labels, in the order the text names them
    background: Background = field(default_factory=lambda: Background("generated"))
    lines: list[Line] = field(default_factory=list)
    placements: list[Placement] = field(default_factory=list)
    timed: bool = False  # the prompt gave this shot's times explicitly
    actions: list[Action] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Storyboard:
    duration: float
    language: str  # the prompt's main language, "zh" | "en"
    shots: list[Shot]
    subjects: list[str]  # every reference that appears as a subject somewhere
    notes: list[str] = field(default_factory=list)  # what the director had to change to fit (speed-ups, cuts)
    panels: list[list[int]] = field(default_factory=list)  # storyboard-grid panel boxes [x, y, w, h], if any
    roles: list[Role] = field(default_factory=list)  # who each reference is (person or object, gender, age)

    @property
    def lines(self) -> list[Line]:
        return [line for shot in self.shots for line in shot.lines]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Storyboard:
        shots = []
        for s in data["shots"]:
            s = dict(s)
            s["background"] = Background(**s["background"])
            s["lines"] = [Line(**line) for line in s["lines"]]
            s["placements"] = [Placement(**p) for p in s.get("placements", [])]
            s["actions"] = [Action(**a) for a in s.get("actions", [])]
            shots.append(Shot(**s))
        return cls(duration=data["duration"], language=data["language"], shots=shots,
                   subjects=list(data["subjects"]), notes=list(data.get("notes", [])),
                   panels=[list(p) for p in data.get("panels", [])],
                   roles=[Role(**r) for r in data.get("roles", [])])  # fmt: skip

    def script(self) -> str:
        """The plan written back as an explicit shot script (the `actual_prompt` of prompt_extend)."""
        zh = self.language == "zh"
        parts = []
        for shot in self.shots:
            framing = FRAMING_NAMES[shot.framing][0 if zh else 1]
            angle = ANGLE_NAMES[shot.angle][0 if zh else 1]
            camera = CAMERA_NAMES[shot.camera][0 if zh else 1]
            where = _background_words(shot.background, zh)
            if zh:
                head = f"镜头{shot.index + 1}[{shot.start:.1f}-{shot.end:.1f}秒] {framing}，{angle}，{camera}{where}："
            else:
                head = f"Shot {shot.index + 1} [{shot.start:.1f}-{shot.end:.1f}s] {framing}, {angle}, {camera}{where}: "
            parts.append(head + shot.text.strip())
        return ("\n" if zh else "\n").join(parts)


def _background_words(background: Background, zh: bool) -> str:
    if background.kind == "reference":
        return f"，场景为{background.label}" if zh else f", set in {background.label}"
    if background.kind == "first_frame":
        return "，从首帧开始" if zh else ", from the first frame"
    if background.kind == "panel":
        return f"，依据分镜第{background.panel + 1}格" if zh else f", after storyboard panel {background.panel + 1}"
    return ""
