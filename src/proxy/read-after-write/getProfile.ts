import type { ProfileViewBasic } from "./types";
import type { Munge } from "./viewer";

/** app.bsky.actor.getProfile: the viewer's own profile shows their newer profile record. */
export const getProfile: Munge<ProfileViewBasic> = async (viewer, body) => {
  const profile = viewer.local.profile?.value;
  if (!profile || body.did !== viewer.did) return null;
  return viewer.withProfileDetailed(body, profile);
};
