// The call inspector: the call's trace (`GET Call/{uuid}/Trace/`) in tabs, beside the
// record's own timeline.

import { useEffect, useState, type MouseEvent, type ReactNode } from "react";
import { ApiError, api, apiText, apiUrl, type Credentials } from "../api";
import { Ladder } from "./Ladder";
import { QualityTable } from "./QualityTable";
import type { Trace } from "./trace";
import { Verbs } from "./Verbs";
import { Webhooks } from "./Webhooks";

const TABS = ["ladder", "webhooks", "verbs", "quality", "timeline"] as const;
type Tab = (typeof TABS)[number];
const TITLES: Record<Tab, string> = {
  ladder: "SIP ladder",
  webhooks: "Webhooks",
  verbs: "Verbs",
  quality: "Quality",
  timeline: "Timeline",
};

const NO_TRACE = 'No trace was kept for this call (capture off, not captured in "failed" mode, or expired)';

/** Fields the backend may leave out of an empty trace read as empty lists. */
function complete(trace: Trace): Trace {
  return {
    ...trace,
    parties: trace.parties ?? [],
    sip: trace.sip ?? [],
    webhooks: trace.webhooks ?? [],
    verbs: trace.verbs ?? [],
    quality: trace.quality ?? [],
    notes: trace.notes ?? [],
  };
}

/** The last moment the trace knows of, for the verbs' time axis. */
function lastMs(trace: Trace): number {
  return Math.max(
    0,
    ...trace.sip.map((m) => m.t_ms),
    ...trace.webhooks.flatMap((w) => w.attempts.map((a) => a.t_ms + (a.latency_ms ?? 0))),
    ...trace.verbs.map((v) => v.end_ms ?? v.start_ms),
  );
}

function initialTab(): Tab {
  const wanted = window.location.hash.slice(1);
  return (TABS as readonly string[]).includes(wanted) ? (wanted as Tab) : "ladder";
}

export function CallInspector(props: { credentials: Credentials; uuid: string; timeline: ReactNode }) {
  const { credentials, uuid, timeline } = props;
  const [tab, setTab] = useState<Tab>(initialTab);
  const [trace, setTrace] = useState<Trace | null>(null);
  const [missing, setMissing] = useState("");
  const [downloadError, setDownloadError] = useState("");
  const path = `Call/${encodeURIComponent(uuid)}/Trace/`;

  useEffect(() => {
    api<Trace>(credentials, "GET", path).then(
      (found) => setTrace(complete(found)),
      (err: Error) =>
        setMissing(
          err instanceof ApiError && err.status === 404 ? `${NO_TRACE}: ${err.message}` : err.message,
        ),
    );
  }, [credentials, path]);

  function choose(next: Tab) {
    setTab(next);
    window.history.replaceState(null, "", `#${next}`);
  }

  async function download(e: MouseEvent) {
    e.preventDefault(); // the API wants Basic auth, which a plain link cannot send
    try {
      const text = await apiText(credentials, `${path}?format=text`);
      const href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
      const link = document.createElement("a");
      link.href = href;
      link.download = `call-${uuid}-sip.txt`;
      link.click();
      URL.revokeObjectURL(href);
      setDownloadError("");
    } catch (err) {
      setDownloadError((err as Error).message);
    }
  }

  const count = (t: Tab): string => {
    if (!trace) return "";
    const n = { ladder: trace.sip, webhooks: trace.webhooks, verbs: trace.verbs, quality: trace.quality }[
      t as Exclude<Tab, "timeline">
    ]?.length;
    return n === undefined ? "" : ` (${n})`;
  };

  return (
    <section className="inspector">
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button
            key={t}
            role="tab"
            id={`tab-${t}`}
            aria-selected={tab === t}
            aria-controls={`panel-${t}`}
            className={tab === t ? "active" : ""}
            onClick={() => choose(t)}
          >
            {TITLES[t]}
            {count(t)}
          </button>
        ))}
        {trace && (
          <a className="export" href={apiUrl(credentials, `${path}?format=text`)} onClick={download}>
            Download SIP text export
          </a>
        )}
      </div>
      {downloadError && <p className="error">{downloadError}</p>}
      {trace?.truncated && (
        <p className="notice" role="note">
          This trace is truncated: a size or count limit dropped some events.
        </p>
      )}
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} data-testid={`panel-${tab}`}>
        {tab === "timeline" ? timeline : body()}
      </div>
    </section>
  );

  function body(): ReactNode {
    if (missing) return <p className="muted">{missing}</p>;
    if (!trace) return <p className="muted">Loading trace…</p>;
    switch (tab) {
      case "ladder":
        return <Ladder parties={trace.parties} sip={trace.sip} />;
      case "webhooks":
        return <Webhooks webhooks={trace.webhooks} />;
      case "verbs":
        return <Verbs verbs={trace.verbs} endMs={lastMs(trace)} />;
      default:
        return <QualityTable quality={trace.quality} parties={trace.parties} />;
    }
  }
}
