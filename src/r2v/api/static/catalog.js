// The models and their limits, as the wire contract gives them (docs: the DashScope r2v API). The server checks
// all of this again; the form checks it first so that a mistake is shown beside its field before anything is sent.

export const MODELS = [
  { name: "wan2.7-r2v", generation: "wan2.7", regions: ["cn-beijing", "ap-southeast-1"] },
  { name: "wan2.7-r2v-2026-06-12", generation: "wan2.7", regions: ["cn-beijing", "ap-southeast-1"] },
  { name: "wan2.6-r2v-flash", generation: "wan2.6", regions: ["cn-beijing", "ap-southeast-1"], canMute: true },
  { name: "wan2.6-r2v", generation: "wan2.6", regions: ["cn-beijing", "ap-southeast-1", "us-east-1"] },
];

export const SIZES_26 = ["1280*720", "720*1280", "960*960", "1088*832", "832*1088",
  "1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"];

export const LIMITS = {
  prompt: { "wan2.7": 5000, "wan2.6": 1500 },
  negativePrompt: 500,
  duration: { min: 2, max: 10, usEast: [5, 10] },
  seed: { min: 0, max: 2147483647 },
  references: { min: 1, max: 5, videos26: 3, firstFrames: 1 },
  image: { types: ["image/jpeg", "image/png", "image/bmp", "image/webp"], exts: ["jpg", "jpeg", "png", "bmp", "webp"],
    maxMB: 20, minSide: 240, maxSide: 8000, maxAspect: 8 },
  video: { types: ["video/mp4", "video/quicktime"], exts: ["mp4", "mov"], maxMB: 100, minSide: 240, maxSide: 4096,
    minSeconds: 1, maxSeconds: 30, maxAspect: 8 },
  audio: { types: ["audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/mp3"], exts: ["wav", "mp3"],
    maxMB: 15, minSeconds: 1, maxSeconds: 10 },
};

export function modelInfo(name) {
  return MODELS.find((m) => m.name === name) || MODELS[0];
}

export function modelsIn(region) {
  const found = MODELS.filter((m) => !region || m.regions.includes(region));
  return found.length ? found : MODELS;
}

/** "image" | "video" | "audio" | null, from the file's type or, failing that, its extension. */
export function fileKind(file) {
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  for (const kind of ["image", "video", "audio"]) {
    const rule = LIMITS[kind];
    if (rule.types.includes(file.type) || rule.exts.includes(ext)) return kind;
  }
  return null;
}
