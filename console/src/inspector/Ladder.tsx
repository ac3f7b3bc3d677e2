// The SIP ladder: one column per party, one arrow per message (top to bottom in capture
// order); click an arrow to read the whole message.

import { useState } from "react";
import { offset, type Party, type SipMessage } from "./trace";

const GUTTER = 90; // the time offsets, left of the first column
const COLUMN = 230;
const HEAD = 54;
const ROW = 34;
const LABEL_CHARS = 30; // what fits a column; the whole label is the tooltip
const COLORS: Record<string, string> = {
  request: "#2f5bea",
  provisional: "#6b7280",
  success: "#1e8449",
  failure: "#c0392b",
};

function kind(message: SipMessage): string {
  if (message.status === null) return "request";
  if (message.status < 200) return "provisional";
  return message.status < 300 ? "success" : "failure";
}

/** The parties, plus a column for any id a message names that the parties list lacks. */
function columns(parties: Party[], sip: SipMessage[]): Party[] {
  const found = [...parties];
  for (const m of sip) {
    for (const id of [m.from, m.to]) {
      if (!found.some((p) => p.id === id)) found.push({ id, label: id, address: "" });
    }
  }
  return found;
}

export function Ladder({ parties, sip }: { parties: Party[]; sip: SipMessage[] }) {
  const [chosen, setChosen] = useState<number | null>(null);
  if (sip.length === 0) return <p className="muted">No SIP messages were captured for this call.</p>;
  const cols = columns(parties, sip);
  const x = (id: string) => GUTTER + COLUMN / 2 + cols.findIndex((p) => p.id === id) * COLUMN;
  const width = GUTTER + cols.length * COLUMN;
  const height = HEAD + sip.length * ROW + 10;
  const message = chosen === null ? null : sip[chosen];
  return (
    <div className="ladder-view">
      <div className="ladder-scroll">
        <svg className="ladder" width={width} height={height} data-testid="ladder">
          <defs>
            {Object.entries(COLORS).map(([name, color]) => (
              <marker
                key={name}
                id={`head-${name}`}
                viewBox="0 0 10 10"
                refX="10"
                refY="5"
                markerWidth="8"
                markerHeight="8"
                orient="auto"
              >
                <path d="M 0 0 L 10 5 L 0 10 z" fill={color} />
              </marker>
            ))}
          </defs>
          {cols.map((p) => (
            <g key={p.id} className="party" data-testid={`party-${p.id}`}>
              <text x={x(p.id)} y={18} textAnchor="middle" className="party-label">
                <title>{p.label}</title>
                {p.label.length > LABEL_CHARS ? `${p.label.slice(0, LABEL_CHARS - 1)}…` : p.label}
              </text>
              <text x={x(p.id)} y={34} textAnchor="middle" className="party-address">
                {p.address}
              </text>
              <line x1={x(p.id)} x2={x(p.id)} y1={HEAD - 12} y2={height} className="lifeline" />
            </g>
          ))}
          {sip.map((m, i) => {
            const y = HEAD + i * ROW + ROW / 2;
            const [x1, x2] = [x(m.from), x(m.to)];
            const self = x1 === x2; // a message a party sends itself: a short loop
            const path = self ? `M ${x1} ${y - 8} h 40 v 16 h -40` : `M ${x1} ${y} L ${x2} ${y}`;
            const mid = self ? x1 + 46 : (x1 + x2) / 2;
            return (
              <g
                key={i}
                className={`sip-arrow ${kind(m)}${chosen === i ? " chosen" : ""}`}
                data-testid={`sip-${i}`}
                role="button"
                tabIndex={0}
                aria-label={`${m.label} ${m.src} to ${m.dst}`}
                onClick={() => setChosen(i)}
                onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && setChosen(i)}
              >
                <text x={8} y={y + 4} className="sip-time">
                  {offset(m.t_ms)}
                </text>
                <path d={path} className="hit" />
                <path
                  d={path}
                  className="shaft"
                  stroke={COLORS[kind(m)]}
                  markerEnd={`url(#head-${kind(m)})`}
                />
                <text
                  x={mid}
                  y={self ? y + 4 : y - 6}
                  textAnchor={self ? "start" : "middle"}
                  className="sip-label"
                >
                  {m.label}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
      {message && (
        <aside className="sip-message" data-testid="sip-message" aria-label="SIP message">
          <header>
            <strong>{message.label}</strong>
            <button onClick={() => setChosen(null)} aria-label="Close message">
              ×
            </button>
          </header>
          <p className="muted">
            {message.at} · {offset(message.t_ms)} · {message.src} → {message.dst} ({message.transport})
            <br />
            Call-ID {message.call_id} · CSeq {message.cseq}
          </p>
          <pre>{message.text}</pre>
        </aside>
      )}
    </div>
  );
}
