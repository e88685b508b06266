import type { ProfileViewBasic } from "./types";
import type { Munge } from "./viewer";

/** app.bsky.actor.getProfiles: the viewer's own entry shows their newer profile record. */
export const getProfiles: Munge<{ profiles: ProfileViewBasic[] }> = async (viewer, body) => {
  const profile = viewer.local.profile?.value;
  if (!profile || !body.profiles.some((p) => p.did === viewer.did)) return null;
  const profiles = body.profiles.map((p) => (p.did === viewer.did ? viewer.withProfileDetailed(p, profile) : p));
  return { ...body, profiles };
};
