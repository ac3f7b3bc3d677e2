import { useState, type FormEvent } from "react";
import { api, type Credentials } from "../api";

export function Login({ onLogin }: { onLogin: (credentials: Credentials) => void }) {
  const [authId, setAuthId] = useState("");
  const [secret, setSecret] = useState("");
  const [error, setError] = useState("");

  async function submit(event: FormEvent) {
    event.preventDefault();
    const credentials = { authId: authId.trim(), secret };
    try {
      await api(credentials, "GET", "");
      onLogin(credentials);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }

  return (
    <form className="login" onSubmit={submit}>
      <h1>Callplane</h1>
      <label className="field">
        <span>Auth ID</span>
        <input aria-label="Auth ID" value={authId} onChange={(e) => setAuthId(e.target.value)} />
      </label>
      <label className="field">
        <span>Auth token or API key</span>
        <input
          aria-label="Auth token or API key"
          type="password"
          value={secret}
          onChange={(e) => setSecret(e.target.value)}
        />
      </label>
      <button type="submit">Log in</button>
      {error && <p className="error" role="alert">{error}</p>}
    </form>
  );
}
