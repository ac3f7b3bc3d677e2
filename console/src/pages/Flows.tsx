import { useEffect, useState, type FormEvent } from "react";
import { api, listAll, type Credentials } from "../api";

interface FlowSummary {
  flow_id: string;
  name: string;
  published_version: number | null;
  updated: string;
}

export function Flows(props: { credentials: Credentials; open: (flowId: string) => void }) {
  const { credentials, open } = props;
  const [flows, setFlows] = useState<FlowSummary[]>([]);
  const [name, setName] = useState("");
  const [error, setError] = useState("");

  const load = () => listAll<FlowSummary>(credentials, "Flow/").then(setFlows, fail);
  useEffect(() => {
    void load();
  }, [credentials]);

  function fail(err: unknown) {
    setError(err instanceof Error ? err.message : String(err));
  }

  async function create(event: FormEvent) {
    event.preventDefault();
    try {
      const made = await api<{ flow_id: string }>(credentials, "POST", "Flow/", { name });
      open(made.flow_id);
    } catch (err) {
      fail(err);
    }
  }

  async function remove(flow: FlowSummary) {
    if (!window.confirm(`Delete flow "${flow.name}" and its versions?`)) return;
    await api(credentials, "DELETE", `Flow/${flow.flow_id}/`).then(load, fail);
  }

  return (
    <section className="page">
      <h2>Flows</h2>
      <form className="inline-form" onSubmit={create}>
        <input
          aria-label="New flow name"
          placeholder="New flow name"
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" disabled={!name.trim()}>
          Create flow
        </button>
      </form>
      {error && <p className="error">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Flow ID</th>
            <th>Published</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {flows.map((f) => (
            <tr key={f.flow_id}>
              <td>
                <a href={`/console/flows/${f.flow_id}`} onClick={(e) => (e.preventDefault(), open(f.flow_id))}>
                  {f.name || "(unnamed)"}
                </a>
              </td>
              <td>
                <code>{f.flow_id}</code>
              </td>
              <td>{f.published_version ? `v${f.published_version}` : "draft"}</td>
              <td>{f.updated}</td>
              <td>
                <button className="danger" onClick={() => remove(f)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
