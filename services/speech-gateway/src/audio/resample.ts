/**
 * Band-limited resampling (windowed sinc). Downsampling low-passes at the new Nyquist rate first,
 * so 44.1/48 kHz recordings do not fold high frequencies into the speech band a 16 kHz
 * recogniser listens to. The kernel is tabulated once; a tap costs a lookup and a multiply.
 */

/** Zero crossings of the sinc on each side of the centre. */
const ZERO_CROSSINGS = 8;
const TABLE_STEPS = 512;

/** sinc(u)·Blackman(u / ZERO_CROSSINGS) for u in [0, ZERO_CROSSINGS], in TABLE_STEPS per unit. */
const KERNEL = (() => {
  const size = ZERO_CROSSINGS * TABLE_STEPS + 2;
  const table = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const u = i / TABLE_STEPS;
    if (u > ZERO_CROSSINGS) continue; // stays 0
    const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
    const phase = (Math.PI * u) / ZERO_CROSSINGS;
    const blackman = 0.42 + 0.5 * Math.cos(phase) + 0.08 * Math.cos(2 * phase);
    table[i] = sinc * blackman;
  }
  return table;
})();

function kernel(u: number): number {
  const pos = Math.abs(u) * TABLE_STEPS;
  const index = Math.floor(pos);
  if (index >= KERNEL.length - 1) return 0;
  const frac = pos - index;
  const a = KERNEL[index] ?? 0;
  const b = KERNEL[index + 1] ?? 0;
  return a + (b - a) * frac;
}

/** `input` sampled at `fromRate`, resampled to `toRate`. */
export function resample(input: Float32Array, fromRate: number, toRate: number): Float32Array {
  if (fromRate === toRate) return input;
  const ratio = toRate / fromRate;
  const outLength = Math.max(0, Math.floor(input.length * ratio));
  const out = new Float32Array(outLength);
  // Cut-off relative to the input's Nyquist: below 1 only when downsampling.
  const cutoff = Math.min(1, ratio);
  const half = Math.ceil(ZERO_CROSSINGS / cutoff);
  for (let i = 0; i < outLength; i++) {
    const t = i / ratio;
    const centre = Math.floor(t);
    const first = Math.max(0, centre - half + 1);
    const last = Math.min(input.length - 1, centre + half);
    let sum = 0;
    let weight = 0;
    for (let k = first; k <= last; k++) {
      const w = kernel((t - k) * cutoff);
      sum += (input[k] ?? 0) * w;
      weight += w;
    }
    // Dividing by the weight keeps unity gain, also at the edges where the kernel is cut.
    out[i] = weight === 0 ? 0 : sum / weight;
  }
  return out;
}
