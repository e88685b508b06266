import { query } from "@/xrpc/method";

export default query({
  handler: ({ ctx }) => {
    const { service } = ctx.config;
    return {
      did: service.did,
      availableUserDomains: service.handleDomains,
      inviteCodeRequired: service.inviteRequired,
      // Aurora has no phone verification step at sign-up.
      phoneVerificationRequired: false,
      // Not in the lexicon; the reference PDS sends it: the largest blob upload it accepts, in bytes.
      blobUploadLimit: service.blobUploadLimit,
      links: {
        ...(service.privacyPolicyUrl ? { privacyPolicy: service.privacyPolicyUrl } : {}),
        ...(service.termsOfServiceUrl ? { termsOfService: service.termsOfServiceUrl } : {}),
      },
      contact: service.contactEmail ? { email: service.contactEmail } : {},
    };
  },
});
