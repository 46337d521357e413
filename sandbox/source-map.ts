/**
 * Just enough of Source Map v3 to turn a V8 stack position in the stored dialplan JS
 * back into the user's original line/column (no dependency: one VLQ decoder).
 */

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

interface Segment {
  generatedColumn: number;
  originalLine: number;
  originalColumn: number;
}

export interface OriginalPosition {
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
}

function decodeVlqSegment(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (let i = 0; i < text.length; i++) {
    const digit = BASE64_VALUE[text.charCodeAt(i)] ?? -1;
    if (digit < 0) throw new Error('invalid base64 VLQ digit');
    value += (digit & 31) * 2 ** shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -Math.floor(value / 2) : Math.floor(value / 2));
    value = 0;
    shift = 0;
  }
  return values;
}

/** Parses the `mappings` of a v3 source map (single source) into per-line segments. */
export class SourceMapIndex {
  private readonly lines: Segment[][] = [];

  constructor(sourceMapJson: string) {
    const parsed: unknown = JSON.parse(sourceMapJson);
    const mappings =
      typeof parsed === 'object' && parsed !== null && typeof (parsed as { mappings?: unknown }).mappings === 'string'
        ? (parsed as { mappings: string }).mappings
        : '';
    let originalLine = 0;
    let originalColumn = 0;
    for (const lineText of mappings.split(';')) {
      const segments: Segment[] = [];
      let generatedColumn = 0;
      if (lineText) {
        for (const segmentText of lineText.split(',')) {
          if (!segmentText) continue;
          const fields = decodeVlqSegment(segmentText);
          generatedColumn += fields[0] ?? 0;
          if (fields.length >= 4) {
            originalLine += fields[2] ?? 0;
            originalColumn += fields[3] ?? 0;
            segments.push({ generatedColumn, originalLine, originalColumn });
          }
        }
      }
      this.lines.push(segments);
    }
  }

  /** Maps a 1-based generated line/column (as V8 stack frames print them). */
  originalPositionFor(line: number, column: number): OriginalPosition | undefined {
    const segments = this.lines[line - 1];
    if (!segments || segments.length === 0) return undefined;
    const generatedColumn = column - 1;
    let best: Segment | undefined;
    for (const segment of segments) {
      if (segment.generatedColumn <= generatedColumn) best = segment;
      else break;
    }
    best ??= segments[0];
    if (!best) return undefined;
    return { line: best.originalLine + 1, column: best.originalColumn + 1 };
  }
}
