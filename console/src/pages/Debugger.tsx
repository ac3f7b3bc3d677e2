// Recent errors and warnings across calls (`GET Debugger/`), filtered, 20 a page, each
// linking to its call.

import { useEffect, useState, type FormEvent } from "react";
import { api, type Credentials, type Listing } from "../api";

interface DebuggerEntry {
  id: string;
  at: string;
  level: "error" | "warning";
  kind: string;
  message: string;
  call_uuid: string | null;
}

interface Filters {
  level: string;
  kind: string;
  callUuid: string;
}

const PAGE = 20;
// The kinds the server records today; the field also accepts any other kind.
const KINDS = ["invalid_document", "webhook_failed", "webhook_timeout", "retries_exhausted"];

function query(filters: Filters, offset: number): string {
  const params = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if (filters.level) params.set("level", filters.level);
  if (filters.kind) params.set("kind", filters.kind);
  if (filters.callUuid) params.set("call_uuid", filters.callUuid);
  return `Debugger/?${params}`;
}

export function Debugger(props: { credentials: Credentials; open: (uuid: string) => void }) {
  const { credentials, open } = props;
  const [filters, setFilters] = useState<Filters>({ level: "", kind: "", callUuid: "" });
  const [typedUuid, setTypedUuid] = useState("");
  const [offset, setOffset] = useState(0);
  const [page, setPage] = useState<Listing<DebuggerEntry> | null>(null);
  const [error, setError] = useState("");

  useEffect(() => {
    api<Listing<DebuggerEntry>>(credentials, "GET", query(filters, offset)).then(
      (found) => (setPage(found), setError("")),
      (err: Error) => setError(err.message),
    );
  }, [credentials, filters, offset]);

  function filter(change: Partial<Filters>) {
    setFilters({ ...filters, ...change });
    setOffset(0);
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    filter({ callUuid: typedUuid.trim() });
  }

  const total = page?.meta.total_count ?? 0;
  return (
    <section className="page">
      <h2>Debugger</h2>
      <form className="inline-form" onSubmit={submit} aria-label="Filters">
        <label className="field">
          <span>Level</span>
          <select
            aria-label="Level"
            value={filters.level}
            onChange={(e) => filter({ level: e.target.value })}
          >
            <option value="">errors and warnings</option>
            <option value="error">errors</option>
            <option value="warning">warnings</option>
          </select>
        </label>
        <label className="field">
          <span>Kind</span>
          <select aria-label="Kind" value={filters.kind} onChange={(e) => filter({ kind: e.target.value })}>
            <option value="">any kind</option>
            {KINDS.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Call UUID</span>
          <input
            aria-label="Call UUID"
            value={typedUuid}
            placeholder="any call"
            size={38}
            onChange={(e) => setTypedUuid(e.target.value)}
          />
        </label>
        <button type="submit" className="filter-button">
          Filter
        </button>
      </form>
      {error && <p className="error">{error}</p>}
      <table data-testid="debugger">
        <thead>
          <tr>
            <th>At</th>
            <th>Level</th>
            <th>Kind</th>
            <th>Message</th>
            <th>Call</th>
          </tr>
        </thead>
        <tbody>
          {page?.objects.map((entry) => (
            <tr key={entry.id} className={`entry ${entry.level}`} data-testid={`entry-${entry.id}`}>
              <td>
                <time>{entry.at}</time>
              </td>
              <td className={entry.level}>{entry.level}</td>
              <td>
                <code>{entry.kind}</code>
              </td>
              <td>{entry.message}</td>
              <td>
                {entry.call_uuid ? (
                  <a
                    href={`/console/calls/${entry.call_uuid}`}
                    onClick={(e) => (e.preventDefault(), open(entry.call_uuid as string))}
                  >
                    <code>{entry.call_uuid}</code>
                  </a>
                ) : (
                  <span className="muted">–</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="pager">
        <button disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
          Newer
        </button>
        <span>
          {total ? `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}` : "nothing recorded"}
        </span>
        <button disabled={offset + PAGE >= total} onClick={() => setOffset(offset + PAGE)}>
          Older
        </button>
      </div>
    </section>
  );
}
