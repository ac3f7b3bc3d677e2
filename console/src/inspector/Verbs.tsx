// The verbs on a time axis: one bar each, from its start to its end.

import { offset, type VerbSpan } from "./trace";

const TICKS = 5;

export function Verbs({ verbs, endMs }: { verbs: VerbSpan[]; endMs: number }) {
  if (verbs.length === 0) return <p className="muted">No verbs ran on this call.</p>;
  // A verb without an end ran until the trace stops (or is still running).
  const span = Math.max(1, endMs, ...verbs.map((v) => v.end_ms ?? v.start_ms));
  const pct = (ms: number) => `${(100 * ms) / span}%`;
  return (
    <div className="verbs" data-testid="verbs">
      <div className="axis">
        {Array.from({ length: TICKS + 1 }, (_, i) => (
          <span key={i} style={{ left: pct((span * i) / TICKS) }}>
            {Math.round((span * i) / TICKS)} ms
          </span>
        ))}
      </div>
      {verbs.map((v, i) => {
        const end = v.end_ms ?? span;
        const until = v.end_ms === null ? "no end" : offset(v.end_ms);
        const lasted = v.end_ms === null ? "no end" : `${(v.end_ms - v.start_ms).toFixed(0)} ms`;
        return (
          <div key={i} className="verb-row" data-testid={`verb-${i}`}>
            <div className="verb-name" title={v.detail}>
              {v.name}
            </div>
            <div className="verb-track">
              <div
                className={`verb-bar${v.end_ms === null ? " open" : ""}`}
                style={{ left: pct(v.start_ms), width: `max(2px, ${pct(end - v.start_ms)})` }}
                title={`${v.name} ${offset(v.start_ms)} to ${until}`}
              />
            </div>
            <div className="verb-time muted">
              {offset(v.start_ms)} · {lasted}
              {v.detail && ` · ${v.detail}`}
            </div>
          </div>
        );
      })}
    </div>
  );
}
