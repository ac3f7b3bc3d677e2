// The call log: records newest first, and one call with its trace and timeline.

import { useEffect, useState } from "react";
import { api, type Credentials, type Listing } from "../api";
import { CallInspector } from "../inspector/CallInspector";

interface CallRecord {
  call_uuid: string;
  call_direction: string;
  from_number: string;
  to_number: string;
  initiation_time: string | null;
  call_status: string;
  hangup_cause_name: string;
  sip_response_code: number;
  bill_duration: number;
  error: string;
  events: { time: string; level: string; message: string }[];
}

const PAGE = 20;

export function Calls(props: { credentials: Credentials; open: (uuid: string) => void }) {
  const { credentials, open } = props;
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<Listing<CallRecord> | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    api<Listing<CallRecord>>(credentials, "GET", `Call/?limit=${PAGE}&offset=${offset}`).then(
      setPage,
      (err: Error) => setError(err.message),
    );
  }, [credentials, offset]);

  const total = page?.meta.total_count ?? 0;
  return (
    <section className="page">
      <h2>Call log</h2>
      {error && <p className="error">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>Started</th>
            <th>Direction</th>
            <th>From</th>
            <th>To</th>
            <th>Status</th>
            <th>SIP</th>
            <th>Hangup cause</th>
            <th>Billed s</th>
          </tr>
        </thead>
        <tbody>
          {page?.objects.map((c) => (
            <tr key={c.call_uuid} data-testid={`call-${c.call_uuid}`}>
              <td>
                <a href={`/console/calls/${c.call_uuid}`} onClick={(e) => (e.preventDefault(), open(c.call_uuid))}>
                  {c.initiation_time ?? c.call_uuid}
                </a>
              </td>
              <td>{c.call_direction}</td>
              <td>{c.from_number}</td>
              <td>{c.to_number}</td>
              <td>{c.call_status}</td>
              <td>{c.sip_response_code || ""}</td>
              <td>{c.hangup_cause_name}</td>
              <td>{c.bill_duration}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
          Newer
        </button>
        <span>
          {total ? `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}` : "no calls yet"}
        </span>
        <button disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
          Older
        </button>
      </div>
    </section>
  );
}

export function CallDetail({ credentials, uuid }: { credentials: Credentials; uuid: string }) {
  const [call, setCall] = useState<CallRecord | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api<CallRecord>(credentials, "GET", `Call/${encodeURIComponent(uuid)}/`).then(setCall, (err: Error) =>
      setError(err.message),
    );
  }, [credentials, uuid]);

  if (error) return <p className="error page">{error}</p>;
  if (!call) return <p className="page muted">Loading…</p>;
  return (
    <section className="page">
      <h2>
        Call <code>{call.call_uuid}</code>
      </h2>
      <dl className="facts">
        <dt>From</dt>
        <dd>{call.from_number}</dd>
        <dt>To</dt>
        <dd>{call.to_number}</dd>
        <dt>Status</dt>
        <dd>{call.call_status}</dd>
        <dt>Hangup cause</dt>
        <dd>{call.hangup_cause_name}</dd>
        <dt>SIP response</dt>
        <dd>{call.sip_response_code || "–"}</dd>
        {call.error && (
          <>
            <dt>Error</dt>
            <dd className="error">{call.error}</dd>
          </>
        )}
      </dl>
      <CallInspector
        credentials={credentials}
        uuid={call.call_uuid}
        timeline={
          <ol className="timeline" data-testid="timeline">
            {call.events.map((e, i) => (
              <li key={i} className={`event ${e.level}`}>
                <time>{e.time}</time> <span>{e.message}</span>
              </li>
            ))}
          </ol>
        }
      />
    </section>
  );
}
