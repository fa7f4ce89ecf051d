// keys: the signing keys (kid, alg, status) and the API keys (name, kind, prefix, scopes, expiry,
// last use), from /admin/v1/keys (src/keys/routes.ts, README "Keys"). Tab switches between the two.
// Signing keys: n creates a standby key (ES256 or RS256: published in the JWKS, signing nothing),
// R makes the selected standby key current (on another row: the newest standby key, or a new one),
// x revokes. API keys: n creates one, o rotates the selected one with an overlap window (both
// secrets work until it ends), x revokes, L turns the legacy anon/service_role JWT keys off or on.
// Every change asks first (a y, or the prompt's Enter). Reading needs security:read, changing
// security:manage, so the change keys are offered only with it (the server checks anyway). A new
// secret lives only in this screen's state until its panel is closed.
import { Box, Text, useInput } from "ink";
import { useEffect, useState } from "react";
import { errorLine } from "../api/client.ts";
import { Confirm } from "../components/Confirm.tsx";
import { Form } from "../components/Form.tsx";
import { LineInput } from "../components/LineInput.tsx";
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
  | { kind: "rotate"; standby: { kid: string; alg: string } | null }
  | { kind: "revoke-signing"; kid: string; status: string }
  | { kind: "new-signing"; error: string | null }
  | { kind: "revoke-api"; name: string; id: string }
  | { kind: "create"; error: string | null }
  | { kind: "rotate-api"; name: string; error: string | null }
  | { kind: "legacy"; enable: boolean }
  | { kind: "secret"; name: string; key: string; oldUntil?: string }
  | null;

const signingTone = (s: string) => (s === "current" ? tone("ok") : s === "revoked" ? tone("muted") : undefined);

export function Keys({ width, height }: ScreenProps) {
  const { client, can, who } = useSession();
  const nav = useNav();
  const manage = can("security:manage");
  const [tab, setTab] = useState<"signing" | "api">("signing");
  const [overlay, setOverlay] = useState<Overlay>(null);
  const signing = useLoad(() => client.signingKeys(), []);
  const api = useLoad(() => client.apiKeys(), [], { enabled: tab === "api" });
  const legacy = useLoad(() => client.legacyKeys(), [], { enabled: tab === "api" });
  const signingList = byFilter(signing.data ?? [], nav.filter, (k) => `${k.kid} ${k.alg} ${k.status}`);
  const apiList = byFilter(api.data ?? [], nav.filter, (k) => `${k.name} ${k.kind} ${k.prefix} ${(k.scopes ?? []).join(" ")}`);
  const count = tab === "signing" ? signingList.length : apiList.length;
  const { selected, setSelected } = useList(count, height - 3, { active: !overlay });
  useCapture(overlay !== null);
  useEffect(() => setSelected(0), [tab, setSelected]);
  const standbySelected = tab === "signing" && signingList[selected]?.status === "standby";
  useHints([
    { key: "Tab", label: tab === "signing" ? "API keys" : "signing keys" },
    ...(manage
      ? tab === "signing"
        ? [
            { key: "n", label: "new standby" },
            { key: "R", label: standbySelected ? "make current" : "rotate" },
          ]
        : [
            { key: "n", label: "new" },
            { key: "o", label: "rotate (overlap)" },
            { key: "L", label: legacy.data?.legacy_api_keys === false ? "legacy keys on" : "legacy keys off" },
          ]
      : []),
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
        if (input === "R") setOverlay({ kind: "rotate", standby: k?.status === "standby" ? { kid: k.kid, alg: k.alg } : null });
        else if (input === "n") setOverlay({ kind: "new-signing", error: null });
        else if (input === "x" && k) setOverlay({ kind: "revoke-signing", kid: k.kid, status: k.status });
      } else {
        const k = apiList[selected];
        if (input === "n") setOverlay({ kind: "create", error: null });
        else if (input === "o" && k) setOverlay({ kind: "rotate-api", name: k.name, error: null });
        else if (input === "L" && legacy.data) setOverlay({ kind: "legacy", enable: !legacy.data.legacy_api_keys });
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
    const next = overlay.standby;
    return (
      <Confirm
        title={next ? `Make ${next.kid} (${next.alg}) the current signing key?` : "Rotate the signing key?"}
        lines={[
          next ? "New access tokens carry its kid." : "The newest standby key (or a new one) becomes current.",
          ...(current ? [`${current.kid} (${current.alg}) becomes previous.`] : []),
          "Nobody is signed out: tokens the previous key signed",
          "stay valid until they expire.",
        ]}
        onYes={() =>
          void run(
            () => client.rotateSigningKey(next?.kid),
            (r) => `Rotated: ${r.current} is current`,
            signing.reload,
          )
        }
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (overlay?.kind === "new-signing") {
    return (
      <Prompt
        title="New standby signing key"
        lines={["Published in the JWKS at once, so verifiers' caches know it; it signs nothing until R makes it current."]}
        label="alg"
        initial="ES256"
        hint="ES256 or RS256"
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(alg) =>
          client.createSigningKey(alg.trim().toUpperCase()).then(
            (k) => {
              setOverlay(null);
              nav.say(`Created standby key ${k.kid} (${k.alg})`);
              signing.reload();
            },
            (err) => setOverlay({ kind: "new-signing", error: errorLine(err) }),
          )
        }
      />
    );
  }
  if (overlay?.kind === "revoke-signing") {
    return (
      <Confirm
        title={`Revoke signing key ${overlay.kid} (${overlay.status})?`}
        lines={[
          "Every token it signed is refused at once, on every node",
          "(401 signing_key_revoked).",
          ...(overlay.status === "previous" ? ["Unless it leaked, wait until its tokens have expired (jwt.expiry)."] : []),
        ]}
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
  if (overlay?.kind === "rotate-api") {
    return (
      <Prompt
        title={`Rotate API key ${overlay.name}`}
        lines={["A new secret replaces it; the old one keeps working until the overlap ends (0: refused at once)."]}
        label="overlap"
        initial="24h"
        hint="e.g. 24h, 30m, 7d (at most 30d)"
        error={overlay.error}
        onCancel={() => setOverlay(null)}
        onSubmit={(overlap) =>
          client.rotateApiKey(overlay.name, overlap.trim()).then(
            (r) => setOverlay({ kind: "secret", name: r.name, key: r.key, oldUntil: r.old_key_expires_at }),
            (err) => setOverlay({ kind: "rotate-api", name: overlay.name, error: errorLine(err) }),
          )
        }
      />
    );
  }
  if (overlay?.kind === "legacy") {
    const viaKey = who.kind === "service_key";
    return (
      <Confirm
        title={overlay.enable ? "Enable the legacy anon/service_role keys again?" : "Disable the legacy anon/service_role keys?"}
        lines={
          overlay.enable
            ? ["The legacy JWT anon and service_role keys are accepted again,", "on every node within a second."]
            : [
                "Requests with the legacy JWT anon or service_role key are refused",
                "(401 legacy_api_keys_disabled), on every node within a second.",
                "Move apps to publishable/secret keys first. User sessions and",
                "the publishable, secret and scoped keys are not affected.",
                ...(viaKey ? ["This console signed in with a service_role key: if that is", "the legacy one, its next call is refused."] : []),
              ]
        }
        onYes={() =>
          void run(
            () => client.setLegacyKeys(overlay.enable),
            (r) => `Legacy anon/service_role keys ${r.legacy_api_keys ? "enabled" : "disabled"}`,
            legacy.reload,
          )
        }
        onNo={() => setOverlay(null)}
      />
    );
  }
  if (overlay?.kind === "secret") {
    return (
      <Box flexDirection="column" borderStyle="round" borderColor={tone("warn")} paddingX={1}>
        <Text bold>
          API key {oneLine(overlay.name)} {overlay.oldUntil ? "rotated" : "created"}
        </Text>
        <Text>{oneLine(overlay.key)}</Text>
        {overlay.oldUntil ? <Text>The previous secret works until {when(overlay.oldUntil)}.</Text> : null}
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
      <Text wrap="truncate">
        API keys · {apiList.length}
        {legacy.data ? (
          <Text color={legacy.data.legacy_api_keys ? undefined : tone("warn")}>
            {" "}
            · legacy anon/service_role keys {legacy.data.legacy_api_keys ? "enabled" : "disabled"}
          </Text>
        ) : null}
      </Text>
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

/** One field with an explanation; the typed value comes with Enter (text and Enter may share a read). */
function Prompt(p: {
  title: string;
  lines: string[];
  label: string;
  initial: string;
  hint: string;
  error: string | null;
  onSubmit(v: string): void;
  onCancel(): void;
}) {
  const [value, setValue] = useState(p.initial);
  return (
    <Box flexDirection="column" borderStyle="round" borderColor={tone("accent")} paddingX={1}>
      <Text bold>{oneLine(p.title)}</Text>
      {p.lines.map((l) => (
        <Text key={l} wrap="wrap">
          {l}
        </Text>
      ))}
      <Box>
        <Text bold color={tone("accent")}>
          {p.label}:{" "}
        </Text>
        <LineInput value={value} onChange={setValue} onSubmit={p.onSubmit} onCancel={p.onCancel} placeholder={p.hint} />
      </Box>
      {p.error ? <Text color={tone("danger")}>{oneLine(p.error)}</Text> : null}
      <Text color={tone("muted")}>Enter go · Ctrl+U clear · Esc cancel</Text>
    </Box>
  );
}
