// Login, then the pages; paths live under /console/ (the server answers index.html for each).

import { useEffect, useState } from "react";
import { api, loadCredentials, saveCredentials, type Credentials } from "./api";
import type { Catalog, ComponentSpec } from "./flow/catalog";
import { CatalogContext } from "./designer/CatalogContext";
import { Applications } from "./pages/Applications";
import { CallDetail, Calls } from "./pages/Calls";
import { Debugger } from "./pages/Debugger";
import { Designer } from "./pages/Designer";
import { Flows } from "./pages/Flows";
import { Login } from "./pages/Login";
import { Numbers } from "./pages/Numbers";

const ROOT = "/console/";

function usePath(): [string, (to: string) => void] {
  const [path, setPath] = useState(window.location.pathname);
  useEffect(() => {
    const onPop = () => setPath(window.location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = (to: string) => {
    window.history.pushState(null, "", ROOT + to);
    setPath(ROOT + to);
  };
  return [path.startsWith(ROOT) ? path.slice(ROOT.length) : "", navigate];
}

export function App() {
  const [credentials, setCredentials] = useState<Credentials | null>(loadCredentials);
  const [catalog, setCatalog] = useState<Catalog>({});
  const [path, navigate] = usePath();

  useEffect(() => {
    if (!credentials) return;
    api<{ objects: ComponentSpec[] }>(credentials, "GET", "Flow/Components/").then(
      (found) => setCatalog(Object.fromEntries(found.objects.map((c) => [c.type, c]))),
      () => setCredentials(null),
    );
  }, [credentials]);

  function login(found: Credentials | null) {
    saveCredentials(found);
    setCredentials(found);
  }

  if (!credentials) return <Login onLogin={login} />;
  const [section, id] = path.split("/");
  const link = (to: string, label: string) => (
    <a
      href={ROOT + to}
      className={section === to ? "active" : ""}
      onClick={(e) => (e.preventDefault(), navigate(to))}
    >
      {label}
    </a>
  );
  return (
    <CatalogContext.Provider value={catalog}>
      <header className="top">
        <strong>Callplane</strong>
        {link("flows", "Flows")}
        {link("numbers", "Numbers")}
        {link("applications", "Applications")}
        {link("calls", "Call log")}
        {link("debugger", "Debugger")}
        <span className="account">{credentials.authId}</span>
        <button onClick={() => login(null)}>Log out</button>
      </header>
      <main>{page(section, id)}</main>
    </CatalogContext.Provider>
  );

  function page(name: string, id: string | undefined) {
    const auth = credentials as Credentials;
    switch (name) {
      case "numbers":
        return <Numbers credentials={auth} />;
      case "applications":
        return <Applications credentials={auth} />;
      case "debugger":
        return <Debugger credentials={auth} open={(uuid) => navigate(`calls/${uuid}`)} />;
      case "calls":
        return id ? (
          <CallDetail credentials={auth} uuid={id} />
        ) : (
          <Calls credentials={auth} open={(uuid) => navigate(`calls/${uuid}`)} />
        );
      default:
        return id ? (
          <Designer key={id} credentials={auth} flowId={id} />
        ) : (
          <Flows credentials={auth} open={(flowId) => navigate(`flows/${flowId}`)} />
        );
    }
  }
}
