import { query } from "@/xrpc/method";

export default query({
  handler: ({ ctx }) => {
    const { service } = ctx.config;
    return {
      did: service.did,
      availableUserDomains: service.handleDomains,
      inviteCodeRequired: service.inviteRequired,
      links: {
        ...(service.privacyPolicyUrl ? { privacyPolicy: service.privacyPolicyUrl } : {}),
        ...(service.termsOfServiceUrl ? { termsOfService: service.termsOfServiceUrl } : {}),
      },
      contact: service.contactEmail ? { email: service.contactEmail } : {},
    };
  },
});
