import type { Algorithm } from "@/rate-limit/types";

/** One server configuration of bench/rate-limit.ts, passed to bench/rate-limit-server.ts as JSON. */
export interface Scenario {
  name: string;
  limits: boolean;
  algorithm: Algorithm;
  /** Redis URL and key prefix for distributed limits; absent for the local store. */
  redis?: { url: string; keyPrefix: string };
}

export const SECRETS = { jwtSecret: "bench-jwt-secret-0123456789", adminPassword: "bench-admin-password", plcRotationKeyHex: "a".repeat(64) };
