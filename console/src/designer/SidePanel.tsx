// The selected node's name and settings (fields from the catalog), with its
// problems from the last validation.

import { useState } from "react";
import type { Settings, SettingSpec } from "../flow/catalog";
import type { FlowNode } from "../flow/document";
import { useCatalog } from "./CatalogContext";

interface Props {
  node: FlowNode;
  onChange: (name: string, settings: Settings) => void;
  onDelete: () => void;
}

export function SidePanel({ node, onChange, onDelete }: Props) {
  const spec = useCatalog()[node.data.component];
  const { name, settings, errors } = node.data;
  const set = (key: string, value: unknown) => {
    const next = { ...settings };
    if (value === undefined) delete next[key];
    else next[key] = value;
    onChange(name, next);
  };
  return (
    <aside className="side-panel" data-testid="side-panel">
      <h3>
        {spec?.label ?? node.data.component} <code>{node.id}</code>
      </h3>
      {spec?.unavailable && <p className="warning">{spec.unavailable}</p>}
      <label className="field">
        <span>Name</span>
        <input
          aria-label="Name"
          value={name}
          onChange={(e) => onChange(e.target.value, settings)}
        />
      </label>
      {spec?.settings.map((s) => (
        <SettingField key={s.name} spec={s} value={settings[s.name]} onChange={(v) => set(s.name, v)} />
      ))}
      {errors.length > 0 && (
        <ul className="problems" data-testid="node-problems">
          {errors.map((e) => (
            <li key={e}>{e}</li>
          ))}
        </ul>
      )}
      {node.data.component !== "start" && (
        <button className="danger" onClick={onDelete}>
          Delete node
        </button>
      )}
    </aside>
  );
}

interface FieldProps {
  spec: SettingSpec;
  value: unknown;
  onChange: (value: unknown) => void;
}

function SettingField({ spec, value, onChange }: FieldProps) {
  const title = `${spec.name}${spec.required ? " *" : ""}`;
  return (
    <label className="field">
      <span>{title}</span>
      <Input spec={spec} value={value} onChange={onChange} />
      <Hint spec={spec} />
    </label>
  );
}

function Hint({ spec }: { spec: SettingSpec }) {
  const parts: string[] = [];
  if (spec.minimum !== null || spec.maximum !== null) {
    parts.push(`${spec.minimum ?? ""}–${spec.maximum ?? ""}`);
  }
  if (spec.default !== null && typeof spec.default !== "object" && spec.default !== "") {
    parts.push(`default ${String(spec.default)}`);
  }
  return parts.length ? <small>{parts.join(", ")}</small> : null;
}

function Input({ spec, value, onChange }: FieldProps) {
  const label = spec.name;
  switch (spec.kind) {
    case "boolean":
      return (
        <input
          type="checkbox"
          aria-label={label}
          checked={Boolean(value ?? spec.default)}
          onChange={(e) => onChange(e.target.checked)}
        />
      );
    case "choice":
      return (
        <select
          aria-label={label}
          value={String(value ?? spec.default ?? "")}
          onChange={(e) => onChange(e.target.value)}
        >
          {spec.choices.map((c) => (
            <option key={c} value={c}>
              {c === "" ? "(none)" : c}
            </option>
          ))}
        </select>
      );
    case "integer":
      return (
        <input
          type="number"
          aria-label={label}
          placeholder={spec.default === null ? "" : String(spec.default)}
          value={typeof value === "number" ? value : ""}
          onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
        />
      );
    case "digits":
      return (
        <input
          aria-label={label}
          placeholder="1, 2, 3"
          value={Array.isArray(value) ? value.join(", ") : ""}
          onChange={(e) => {
            const keys = e.target.value.split(",").map((k) => k.trim()).filter(Boolean);
            onChange(keys.length ? keys : undefined);
          }}
        />
      );
    case "text":
    case "url":
    case "destinations":
      return (
        <input
          aria-label={label}
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        />
      );
    default: // pairs, body, variables, patterns, conditions: JSON
      return <JsonInput label={label} value={value} onChange={onChange} />;
  }
}

function JsonInput({ label, value, onChange }: { label: string; value: unknown; onChange: (v: unknown) => void }) {
  const [draft, setDraft] = useState(value === undefined ? "" : JSON.stringify(value, null, 1));
  const [problem, setProblem] = useState("");
  const commit = (text: string) => {
    setDraft(text);
    if (!text.trim()) {
      setProblem("");
      onChange(undefined);
      return;
    }
    try {
      onChange(JSON.parse(text));
      setProblem("");
    } catch {
      setProblem("not valid JSON yet");
    }
  };
  return (
    <>
      <textarea aria-label={label} rows={3} value={draft} onChange={(e) => commit(e.target.value)} />
      {problem && <small className="error">{problem}</small>}
    </>
  );
}
