// The account's numbers; each is routed to an application or to a flow.

import { useEffect, useState } from "react";
import { api, listAll, type Credentials } from "../api";

interface NumberRow {
  number: string;
  alias: string | null;
  app_id: string | null;
  flow_id?: string | null;
}

interface Named {
  id: string;
  name: string;
}

export function Numbers({ credentials }: { credentials: Credentials }) {
  const [rows, setRows] = useState<NumberRow[]>([]);
  const [apps, setApps] = useState<Named[]>([]);
  const [flows, setFlows] = useState<Named[]>([]);
  const [message, setMessage] = useState("");

  const load = () => listAll<NumberRow>(credentials, "Number/").then(setRows, fail);
  useEffect(() => {
    void load();
    listAll<{ app_id: string; app_name: string }>(credentials, "Application/").then(
      (found) => setApps(found.map((a) => ({ id: a.app_id, name: a.app_name }))),
      fail,
    );
    listAll<{ flow_id: string; name: string }>(credentials, "Flow/").then(
      (found) => setFlows(found.map((f) => ({ id: f.flow_id, name: f.name }))),
      fail,
    );
  }, [credentials]);

  function fail(err: unknown) {
    setMessage(err instanceof Error ? err.message : String(err));
  }

  async function route(number: string, choice: string) {
    const [kind, id] = choice.split(":", 2);
    const body = kind === "flow" ? { flow_id: id } : { app_id: id };
    try {
      await api(credentials, "POST", `Number/${encodeURIComponent(number)}/`, body);
      setMessage(`${number} updated`);
      await load();
    } catch (err) {
      fail(err);
    }
  }

  return (
    <section className="page">
      <h2>Numbers</h2>
      {message && <p className="status info">{message}</p>}
      <table>
        <thead>
          <tr>
            <th>Number</th>
            <th>Alias</th>
            <th>Routed to</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.number} data-testid={`number-${row.number}`}>
              <td>{row.number}</td>
              <td>{row.alias}</td>
              <td>
                <select
                  aria-label={`Route for ${row.number}`}
                  value={currentRoute(row)}
                  onChange={(e) => route(row.number, e.target.value)}
                >
                  <option value="" disabled>
                    (nothing)
                  </option>
                  <optgroup label="Applications">
                    {apps.map((a) => (
                      <option key={a.id} value={`app:${a.id}`}>
                        {a.name}
                      </option>
                    ))}
                  </optgroup>
                  <optgroup label="Flows">
                    {flows.map((f) => (
                      <option key={f.id} value={`flow:${f.id}`}>
                        {f.name}
                      </option>
                    ))}
                  </optgroup>
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function currentRoute(row: NumberRow): string {
  if (row.flow_id) return `flow:${row.flow_id}`;
  return row.app_id ? `app:${row.app_id}` : "";
}
