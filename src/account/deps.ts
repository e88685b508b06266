import type { Secp256k1Keypair } from "@atproto/crypto";
import type { SessionStore } from "@/auth/sessions";
import type { RunConfig } from "@/config/resolve";
import type { DatabasePlugin } from "@/contracts/db";
import type { PlcClient } from "@/identity/plc";
import type { IdentityResolver } from "@/identity/resolver";
import type { Logger } from "@/log";
import type { Mailer } from "@/mail/mailer";
import type { RateLimits } from "@/rate-limit/limiter";
import type { Sequencer } from "@/sequencer/sequencer";
import type { EmailTokens } from "./email-tokens";
import type { ReservedKeys } from "./reserved-keys";
import type { SigningKeyVault } from "./signing-keys";

/** What the account operations work with; built once by `createAccountServices`. */
export interface AccountDeps {
  readonly config: RunConfig;
  readonly db: DatabasePlugin;
  readonly identity: IdentityResolver;
  readonly plc: PlcClient;
  /** The server's PLC rotation key: signs genesis and update operations. */
  readonly rotationKey: Secp256k1Keypair;
  readonly vault: SigningKeyVault;
  /** Keys reserved for DIDs moving here (reserveSigningKey); createAccount with a `did` takes its key from here. */
  readonly reservedKeys: ReservedKeys;
  readonly sessions: SessionStore;
  readonly mailer: Mailer;
  readonly emailTokens: EmailTokens;
  /** Account creation and handle changes emit their firehose events in their own transactions. */
  readonly sequencer: Sequencer;
  readonly log: Logger;
  /** Log-in spends and refunds `login-failures` points. */
  readonly rateLimits: Pick<RateLimits, "consumePoints" | "refund">;
}
