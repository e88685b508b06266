import { EMBEDDED_PLC } from "@/identity/embedded-plc";
import { ConfigError } from "@/errors";
import { serve } from "./serve";

type Section = Record<string, unknown>;

/**
 * `aurora dev`: a local AT Protocol network in one process, for newcomers and
 * app developers (`npm start`). It is `aurora serve` with these defaults for
 * whatever the config and environment leave unset: an embedded did:plc
 * directory (`identity.plcUrl: "embedded"`), dev mode (generated secrets),
 * no invite codes, and the server bound to 127.0.0.1. A hostname other than
 * localhost, or dev mode switched off, is refused: this command never runs a
 * public server.
 */
export function dev(file?: string): Promise<number> {
  return serve(file, withDevDefaults);
}

/** Fill in the `aurora dev` defaults on a loaded user config (values already set win). */
export function withDevDefaults(user: unknown): unknown {
  if (typeof user !== "object" || user === null) return user; // resolveConfig names the problem.
  const config = user as Section;
  const service = section(config.service);
  const identity = section(config.identity);
  if (service.hostname !== undefined && service.hostname !== "localhost") {
    throw new ConfigError(`aurora dev runs a local server only, but the hostname is ${String(service.hostname)}; use \`aurora serve\` (unset PDS_HOSTNAME for dev)`);
  }
  if (service.devMode === false) {
    throw new ConfigError("aurora dev runs in dev mode, but PDS_DEV_MODE (service.devMode) is false; use `aurora serve`");
  }
  return {
    ...config,
    service: withDefaults(service, { devMode: true, inviteRequired: false, bind: "127.0.0.1" }),
    identity: withDefaults(identity, { plcUrl: EMBEDDED_PLC }),
  };
}

function section(value: unknown): Section {
  return typeof value === "object" && value !== null ? (value as Section) : {};
}

function withDefaults(values: Section, defaults: Section): Section {
  const set = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
  return { ...defaults, ...set };
}
