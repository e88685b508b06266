import { methods } from "@/xrpc";
import getPreferences from "@/xrpc/app/bsky/actor/getPreferences";
import putPreferences from "@/xrpc/app/bsky/actor/putPreferences";

/** The route table with the preference methods mounted (whether or not src/xrpc/index.ts lists them yet). */
export const withPreferences = {
  ...methods,
  "app.bsky.actor.getPreferences": getPreferences,
  "app.bsky.actor.putPreferences": putPreferences,
};
