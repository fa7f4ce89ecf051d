// keys: the signing keys (kid, alg, status; R rotates to a new current key, x revokes the selected
// one) and the API keys (name, kind, prefix, scopes, expiry, last use; n creates one and shows its
// secret once, x revokes the selected one), from /admin/v1/keys (src/keys/routes.ts, README "Keys").
// Tab switches between the two. Every change asks for a y first. Reading needs security:read,
// changing security:manage, so the change keys are offered only with it (the server checks anyway).
// The secret of a new key lives only in this screen's state until the panel is closed.
import { Box, Text, useInput } from "ink";
import { useEffect, useState } from "react";
import { errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { ErrorText, Loading } from "../components/Message.tsx";
import { Table } from "../components/Table.tsx";
import { oneLine, when } from "../lib/format.ts";
import { tone } from "../lib/theme.ts";
import { useHints, useNav } from "../state/nav.tsx";
import { useSession } from "../state/session.tsx";
import { byFilter, useCapture, useList } from "../state/use-list.ts";
import { useLoad } from "../state/use-load.ts";
import type { ScreenProps } from "../shell/screens.ts";

type Overlay =
  | { kind: "rotate" }
  | { kind: "revoke-signing"; kid: string; status: string }
  | { kind: "revoke-api"; name: string; id: string }
  | { kind: "create"; error: string | null }
  | { kind: "secret"; name: string; key: string }
  | null;

const signingTone = (s: string) => (s === "current" ? tone("ok") : s === "revoked" ? tone("muted") : undefined);

export function Keys({ width, height }: ScreenProps) {
  const { client, can } = useSession();
  const nav = useNav();
  const manage = can("security:manage");
  const [tab, setTab] = useState<"signing" | "api">("signing");
  const [overlay, setOverlay] = useState<Overlay>(null);
  const signing = useLoad(() => client.signingKeys(), []);
  const api = useLoad(() => client.apiKeys(), [], { enabled: tab === "api" });
  const signingList = byFilter(signing.data ?? [], nav.filter, (k) => `${k.kid} ${k.alg} ${k.status}`);
  const apiList = byFilter(api.data ?? [], nav.filter, (k) => `${k.name} ${k.kind} ${k.prefix} ${(k.scopes ?? []).join(" ")}`);
  const count = tab === "signing" ? signingList.length : apiList.length;
  const { selected, setSelected } = useList(count, height - 3, { active: !overlay });
  useCapture(overlay !== null);
  useEffect(() => setSelected(0), [tab, setSelected]);
  useHints([
    { key: "Tab", label: tab === "signing" ? "API keys" : "signing keys" },
    ...(manage ? (tab === "signing" ? [{ key: "R", label: "rotate" }] : [{ key: "n", label: "new" }]) : []),
    ...(manage ? [{ key: "x", label: "revoke" }] : []),
  ]);
  const run = async <T,>(what: () => Promise<T>, done: string | ((r: T) => string), reload: () => void) => {
    setOverlay(null);
    try {
      const r = await what();
      nav.say(typeof done === "string" ? done : done(r));
    } catch (err) {
      nav.say(errorLine(err), "danger");
    }
    reload();
  };
  useInput(
    (input, key) => {
      if (key.tab) return setTab((t) => (t === "signing" ? "api" : "signing"));
      if (input === "r") return (tab === "signing" ? signing : api).reload();
      if (!manage) return;
      if (tab === "signing") {
        const k = signingList[selected];
        if (input === "R") setOverlay({ kind: "rotate" });
        else if (input === "x" && k) setOverlay({ kind: "revoke-signing", kid: k.kid, status: k.status });
      } else {
        const k = apiList[selected];
        if (input === "n") setOverlay({ kind: "create", error: null });
        else if (input === "x" && k) setOverlay({ kind: "revoke-api", name: k.name, id: k.id });
      }
    },
    { isActive: nav.mode === "normal" && !nav.capturing && !overlay },
  );
  useInput(
    (input, key) => {
      if (key.escape || key.return || input === "q") {
        setOverlay(null);
        api.reload();
      }
    },
    { isActive: overlay?.kind === "secret" },
  );

  if (overlay?.kind === "rotate") {
    const current = (signing.data ?? []).find((k) => k.status === "current");
    return (
      <Confirm
        title="Rotate the signing key?"
        lines={[
          `A new key becomes current${current ? `; ${current.kid} (${current.alg}) becomes previous` : ""}.`,
          "Tokens signed by the previous key stay valid until they expire.",
        ]}
        onYes={() =>
          void run(
            () => client.rotateSigningKey(),
            (r) => `Rotated: ${r.current} is current`,
            signing.reload,
          )
        }
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (overlay?.kind === "revoke-signing") {
    return (
      <Confirm
        title={`Revoke signing key ${overlay.kid} (${overlay.status})?`}
        lines={["Every token it signed stops verifying at once."]}
        onYes={() => void run(() => client.revokeSigningKey(overlay.kid), `Revoked signing key ${overlay.kid}`, signing.reload)}
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (overlay?.kind === "revoke-api") {
    return (
      <Confirm
        title={`Revoke API key ${overlay.name}?`}
        lines={["Requests made with it are refused at once."]}
        onYes={() => void run(() => client.revokeApiKey(overlay.id), `Revoked API key ${overlay.name}`, api.reload)}
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (overlay?.kind === "create") {
    return (
      <Form
        title="New API key"
        fields={[
          { name: "name", label: "name", hint: "letters, digits, _ . -" },
          { name: "kind", label: "kind", initial: "secret", hint: "publishable / secret / scoped" },
          { name: "scopes", label: "scopes", hint: "scoped keys: rest:read:public.*, …" },
          { name: "expires", label: "expires", hint: "e.g. 30d (empty: never)" },
        ]}
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(v) => {
          const scopes = (v.scopes ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean);
          const name = (v.name ?? "").trim();
          client
            .createApiKey({
              name,
              kind: (v.kind ?? "").trim(),
              ...(scopes.length ? { scopes } : {}),
              ...(v.expires?.trim() ? { expires: v.expires.trim() } : {}),
            })
            .then(
              (r) => setOverlay({ kind: "secret", name: r.name, key: r.key }),
              (err) => setOverlay({ kind: "create", error: errorLine(err) }),
            );
        }}
      />
    );
  }
  if (overlay?.kind === "secret") {
    return (
      <Box flexDirection="column" borderStyle="round" borderColor={tone("warn")} paddingX={1}>
        <Text bold>API key {oneLine(overlay.name)} created</Text>
        <Text>{oneLine(overlay.key)}</Text>
        <Text color={tone("warn")}>This is the only time the secret is shown: copy it now.</Text>
        <Text color={tone("muted")}>Enter or Esc closes</Text>
      </Box>
    );
  }

  const data = tab === "signing" ? signing : api;
  if (!data.data) return data.error ? <ErrorText error={data.error} /> : <Loading />;
  if (tab === "signing") {
    return (
      <Box flexDirection="column">
        <Text>signing keys · {signingList.length}</Text>
        <Table
          width={width}
          height={height - 1}
          selected={selected}
          columns={[{ title: "kid", max: 44 }, { title: "alg" }, { title: "status" }, { title: "created" }, { title: "revoked" }]}
          rows={signingList.map((k) => [k.kid, k.alg, k.status, when(k.created_at), when(k.revoked_at)])}
          rowTone={(i) => signingTone(signingList[i]?.status ?? "")}
          empty="No signing keys (tokens are signed with the shared secret)."
        />
      </Box>
    );
  }
  return (
    <Box flexDirection="column">
      <Text>API keys · {apiList.length}</Text>
      <Table
        width={width}
        height={height - 1}
        selected={selected}
        columns={[
          { title: "name", max: 30 },
          { title: "kind" },
          { title: "prefix" },
          { title: "scopes", max: 40 },
          { title: "expires" },
          { title: "last used" },
          { title: "status" },
        ]}
        rows={apiList.map((k) => [k.name, k.kind, k.prefix, (k.scopes ?? []).join(",") || "–", when(k.expires_at), when(k.last_used_at), k.status])}
        rowTone={(i) => (apiList[i]?.status === "active" ? undefined : tone("muted"))}
        empty="No API keys."
      />
    </Box>
  );
}
