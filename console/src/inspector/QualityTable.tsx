// RTP figures per leg.

import type { Party, Quality } from "./trace";

const dash = (value: number | null, digits: number) => (value === null ? "–" : value.toFixed(digits));

function lossRate(q: Quality): string {
  const expected = q.packets_received + q.lost;
  return expected ? ` (${((100 * q.lost) / expected).toFixed(1)} %)` : "";
}

export function QualityTable({ quality, parties }: { quality: Quality[]; parties: Party[] }) {
  if (quality.length === 0) return <p className="muted">No media statistics: the call carried no RTP.</p>;
  const label = (id: string) => parties.find((p) => p.id === id)?.label ?? id;
  return (
    <table className="quality" data-testid="quality">
      <thead>
        <tr>
          <th>Leg</th>
          <th>Packets sent</th>
          <th>Packets received</th>
          <th>Lost</th>
          <th>Late</th>
          <th>Jitter ms</th>
          <th>RTT ms</th>
          <th>MOS</th>
        </tr>
      </thead>
      <tbody>
        {quality.map((q) => (
          <tr key={q.party} data-testid={`quality-${q.party}`}>
            <td>{label(q.party)}</td>
            <td>{q.packets_sent}</td>
            <td>{q.packets_received}</td>
            <td>
              {q.lost}
              {lossRate(q)}
            </td>
            <td>{q.late}</td>
            <td>{q.jitter_ms.toFixed(1)}</td>
            <td>{dash(q.rtt_ms, 1)}</td>
            <td>{dash(q.mos, 2)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
