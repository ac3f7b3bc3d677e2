import { useEffect, useState, type FormEvent } from "react";
import { api, listAll, type Credentials } from "../api";

interface Application {
  app_id: string;
  app_name: string;
  answer_url: string;
  answer_method: string;
  hangup_url: string;
}

export function Applications({ credentials }: { credentials: Credentials }) {
  const [apps, setApps] = useState<Application[]>([]);
  const [form, setForm] = useState({ app_name: "", answer_url: "", hangup_url: "" });
  const [error, setError] = useState("");

  const load = () =>
    listAll<Application>(credentials, "Application/").then(setApps, (err: Error) =>
      setError(err.message),
    );
  useEffect(() => {
    void load();
  }, [credentials]);

  async function create(event: FormEvent) {
    event.preventDefault();
    const body = Object.fromEntries(Object.entries(form).filter(([, v]) => v.trim()));
    try {
      await api(credentials, "POST", "Application/", body);
      setForm({ app_name: "", answer_url: "", hangup_url: "" });
      setError("");
      await load();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  const field = (name: keyof typeof form, label: string) => (
    <input
      aria-label={label}
      placeholder={label}
      value={form[name]}
      onChange={(e) => setForm({ ...form, [name]: e.target.value })}
    />
  );

  return (
    <section className="page">
      <h2>Applications</h2>
      <form className="inline-form" onSubmit={create}>
        {field("app_name", "Name")}
        {field("answer_url", "Answer URL")}
        {field("hangup_url", "Hangup URL")}
        <button type="submit">Create application</button>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>App ID</th>
            <th>Answer URL</th>
            <th>Hangup URL</th>
          </tr>
        </thead>
        <tbody>
          {apps.map((a) => (
            <tr key={a.app_id}>
              <td>{a.app_name}</td>
              <td>
                <code>{a.app_id}</code>
              </td>
              <td>
                {a.answer_method} {a.answer_url}
              </td>
              <td>{a.hangup_url}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
