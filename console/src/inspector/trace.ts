// The call trace as `GET Call/{uuid}/Trace/` answers it (the inspector's JSON contract).

export interface Party {
  id: string;
  label: string;
  address: string;
  call_uuid?: string;
}

export interface SipMessage {
  t_ms: number;
  at: string;
  from: string;
  to: string;
  direction: "in" | "out";
  transport: string;
  src: string;
  dst: string;
  label: string;
  method: string | null;
  status: number | null;
  call_id: string;
  cseq: string;
  text: string;
}

export interface Attempt {
  t_ms: number;
  latency_ms: number | null;
  status: number | null;
  error: string | null;
  content_type: string | null;
  body: string | null;
  body_truncated: boolean;
}

export interface Webhook {
  t_ms: number;
  kind: string;
  method: string;
  url: string;
  params: Record<string, unknown>; // form fields (a repeated one as a list) or a JSON body
  signed: boolean;
  attempts: Attempt[];
  outcome: string;
}

export interface VerbSpan {
  name: string;
  start_ms: number;
  end_ms: number | null;
  detail: string;
}

export interface Quality {
  party: string;
  packets_sent: number;
  packets_received: number;
  lost: number;
  late: number;
  jitter_ms: number;
  rtt_ms: number | null;
  mos: number | null;
}

export interface Note {
  t_ms: number;
  level: string;
  message: string;
}

export interface Trace {
  call_uuid: string;
  mode: string;
  started_at: string | null;
  truncated: boolean;
  parties: Party[];
  sip: SipMessage[];
  webhooks: Webhook[];
  verbs: VerbSpan[];
  quality: Quality[];
  notes: Note[];
}

/** `+1234.5 ms` after the trace's first event. */
export function offset(ms: number): string {
  return `+${ms.toFixed(1)} ms`;
}
