// Each webhook: the request on the left, every attempt's response on the right.

import { offset, type Attempt, type Webhook } from "./trace";

function Response({ attempt, n }: { attempt: Attempt; n: number }) {
  const failed = attempt.error !== null || attempt.status === null || attempt.status >= 400;
  return (
    <div className={`attempt${failed ? " failed" : ""}`} data-testid="attempt">
      <div className="attempt-head">
        <strong>Attempt {n}</strong> <span className="muted">{offset(attempt.t_ms)}</span>{" "}
        <span className="attempt-status">
          {attempt.error ?? (attempt.status === null ? "no response" : `HTTP ${attempt.status}`)}
        </span>
        {attempt.latency_ms !== null && <span className="muted"> · {attempt.latency_ms.toFixed(1)} ms</span>}
      </div>
      {attempt.content_type && <div className="muted">{attempt.content_type}</div>}
      {attempt.body ? (
        <pre>
          {attempt.body}
          {attempt.body_truncated && <span className="muted">{"\n"}… (body truncated)</span>}
        </pre>
      ) : (
        attempt.error === null && <div className="muted">empty body</div>
      )}
    </div>
  );
}

export function Webhooks({ webhooks }: { webhooks: Webhook[] }) {
  if (webhooks.length === 0) return <p className="muted">No webhooks were called for this call.</p>;
  return (
    <ol className="webhooks">
      {webhooks.map((w, i) => (
        <li key={i} className={`webhook ${w.outcome}`} data-testid={`webhook-${i}`}>
          <div className="webhook-request">
            <div className="webhook-head">
              <span className="badge">{w.kind}</span> <span className="muted">{offset(w.t_ms)}</span>{" "}
              <span className={`outcome ${w.outcome}`}>{w.outcome}</span>
            </div>
            <div className="webhook-url">
              <strong>{w.method}</strong> <code>{w.url}</code>
            </div>
            <div className="muted">{w.signed ? "signed" : "not signed"}</div>
            <table className="params">
              <tbody>
                {Object.entries(w.params ?? {}).map(([name, value]) => (
                  <tr key={name}>
                    <th>{name}</th>
                    <td>{typeof value === "string" ? value : JSON.stringify(value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="webhook-response">
            {(w.attempts ?? []).length === 0 ? (
              <p className="muted">Not sent yet ({w.outcome}).</p>
            ) : (
              w.attempts.map((a, n) => <Response key={n} attempt={a} n={n + 1} />)
            )}
          </div>
        </li>
      ))}
    </ol>
  );
}
