// The component catalog from GET Flow/Components/ (src/callplane/api/flow_components.py).

export type Settings = Record<string, unknown>;

export interface SettingSpec {
  name: string;
  kind: string;
  required: boolean;
  default: unknown;
  choices: string[];
  minimum: number | null;
  maximum: number | null;
}

export interface ExitRule {
  setting: string;
  take: "list" | "keys" | "names" | "if_set";
  before?: string[];
  after?: string[];
  otherwise?: string[];
  when_set?: string[];
}

export interface ComponentSpec {
  type: string;
  label: string;
  settings: SettingSpec[];
  exits: string[];
  exit_rule: ExitRule | null;
  may_end: string[];
  unavailable: string;
}

export type Catalog = Record<string, ComponentSpec>;

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value as object).length === 0;
}

function items(rule: ExitRule, value: unknown): string[] {
  switch (rule.take) {
    case "list":
      return Array.isArray(value) ? value.map(String) : [];
    case "keys":
      return value && typeof value === "object" ? Object.keys(value) : [];
    case "names":
      return Array.isArray(value) ? value.map((c) => String((c as { name?: unknown })?.name)) : [];
    case "if_set":
      return rule.when_set ?? [];
  }
}

/** The exits of a node of ``spec`` with ``settings``, as the server computes them. */
export function exitsOf(spec: ComponentSpec, settings: Settings): string[] {
  const rule = spec.exit_rule;
  if (!rule) return spec.exits;
  const value = settings[rule.setting];
  if (isEmpty(value)) {
    return rule.otherwise ?? [...(rule.before ?? []), ...(rule.after ?? [])];
  }
  return [...(rule.before ?? []), ...items(rule, value), ...(rule.after ?? [])];
}
