// The built-in detectors and the one place that turns DLP settings into a Scanner. Compile once at load.
import { anthropicKey } from './anthropic-key.ts';
import { basicAuth, bearerToken } from './authorization-value.ts';
import { awsAccessKeyId, awsSecretAccessKey } from './aws-keys.ts';
import { azureStorageKey } from './azure-storage-key.ts';
import { customDetector, type CustomDetectorSpec } from './custom-pattern.ts';
import { deSteuerId } from './de-steuer-id.ts';
import type { Detector } from './detector.ts';
import { email } from './email.ts';
import { esDni } from './es-dni.ts';
import { gcpApiKey, gcpServiceAccount } from './gcp-keys.ts';
import { githubFineGrainedToken, githubToken } from './github-token.ts';
import { gitlabRunnerToken, gitlabSession, gitlabToken } from './gitlab-token.ts';
import { huggingfaceToken } from './huggingface-token.ts';
import { iban } from './iban.ts';
import { ipAddress } from './ip-address.ts';
import { npmToken } from './npm-token.ts';
import { openaiKey } from './openai-key.ts';
import { paymentCard } from './payment-card.ts';
import { phoneNumber } from './phone-number.ts';
import { privateKey } from './private-key.ts';
import { DEFAULT_SCAN_LIMITS, type ScanLimits } from './scan-limits.ts';
import { Scanner } from './scanner.ts';
import { slackToken, slackWebhook } from './slack-token.ts';
import { stripeKey } from './stripe-key.ts';
import { ukNino } from './uk-nino.ts';
import { urlCredentials } from './url-credentials.ts';
import { usSsn } from './us-ssn.ts';
import { jwt, jwtBase64 } from './jwt.ts';
import { bedrockApiKey } from './bedrock-key.ts';
import { perplexityKey } from './perplexity-key.ts';
import { cohereKey } from './cohere-key.ts';
import { azureAdClientSecret } from './azure-ad-secret.ts';
import { digitaloceanToken } from './digitalocean-token.ts';
import { cloudflareApiToken, cloudflareOriginCaKey } from './cloudflare-token.ts';
import { vaultToken } from './vault-token.ts';
import { terraformToken } from './terraform-token.ts';
import { databricksToken } from './databricks-token.ts';
import { herokuKey } from './heroku-key.ts';
import { flyioToken } from './flyio-token.ts';
import { onepasswordToken } from './onepassword-token.ts';
import { dopplerToken } from './doppler-token.ts';
import { pulumiToken } from './pulumi-token.ts';
import { openshiftToken } from './openshift-token.ts';
import { agePrivateKey } from './age-key.ts';
import { atlassianToken } from './atlassian-token.ts';
import { sendgridKey } from './sendgrid-key.ts';
import { twilioApiKey, twilioAuthToken } from './twilio-key.ts';
import { shopifyToken } from './shopify-token.ts';
import { pypiToken } from './pypi-token.ts';
import { sentryToken } from './sentry-token.ts';
import { grafanaToken } from './grafana-token.ts';
import { newrelicKey } from './newrelic-key.ts';
import { linearKey } from './linear-key.ts';
import { notionToken } from './notion-token.ts';
import { postmanKey } from './postman-key.ts';
import { planetscaleToken } from './planetscale-token.ts';
import { telegramBotToken } from './telegram-token.ts';
import { datadogKey } from './datadog-key.ts';
import { oktaToken } from './okta-token.ts';
import { jfrogReferenceToken, jfrogToken } from './jfrog-token.ts';
import { squareAccessToken, squareLegacyToken } from './square-token.ts';
import { alibabaAccessKeyId, alibabaAccessKeySecret } from './alibaba-key.ts';
import { yandexApiKey, yandexIamToken, yandexOauthToken, yandexStaticKey } from './yandex-key.ts';
import { k8sSecret } from './k8s-secret.ts';
import { curlCredentials } from './curl-credentials.ts';
import { headerCredential } from './header-credential.ts';
import { genericSecret, genericSecretName, genericSecretPair, mysqlPassword, netrcPassword } from './generic-secret.ts';

/** Credential formats of AI providers, clouds, CI/CD, observability and SaaS tools (one file per family). */
export const VENDOR_DETECTORS: readonly Detector[] = [
  bedrockApiKey, perplexityKey, cohereKey, azureAdClientSecret, digitaloceanToken, cloudflareApiToken,
  cloudflareOriginCaKey, vaultToken, terraformToken, databricksToken, herokuKey, flyioToken, onepasswordToken,
  dopplerToken, pulumiToken, openshiftToken, agePrivateKey, atlassianToken, sendgridKey, twilioApiKey,
  twilioAuthToken, shopifyToken, pypiToken, sentryToken, grafanaToken, newrelicKey, linearKey, notionToken,
  postmanKey, planetscaleToken, telegramBotToken, datadogKey, oktaToken, jfrogToken, jfrogReferenceToken,
  squareAccessToken, squareLegacyToken, alibabaAccessKeyId, alibabaAccessKeySecret, yandexApiKey, yandexStaticKey,
  yandexOauthToken, yandexIamToken,
];

export type Locale = 'us' | 'gb' | 'es' | 'de';

/** Secrets first: when hits of equal span overlap, the earlier detector names the finding. */
export const SECRET_DETECTORS: readonly Detector[] = [
  privateKey, awsAccessKeyId, awsSecretAccessKey, gcpApiKey, gcpServiceAccount, azureStorageKey, githubToken,
  githubFineGrainedToken, gitlabToken, gitlabSession, gitlabRunnerToken, slackToken, slackWebhook, stripeKey, anthropicKey,
  openaiKey, huggingfaceToken, npmToken, ...VENDOR_DETECTORS,
  // Shapes that wrap other formats come last, so a vendor format found at the same span names the finding.
  jwt, jwtBase64, k8sSecret, urlCredentials, bearerToken, basicAuth, headerCredential, curlCredentials, genericSecret,
  genericSecretName, genericSecretPair, netrcPassword, mysqlPassword,
];

/** National ids by locale. */
export const LOCALE_DETECTORS: Readonly<Record<Locale, readonly Detector[]>> = {
  us: [usSsn],
  gb: [ukNino],
  es: [esDni],
  de: [deSteuerId],
};

export const DEFAULT_ALLOW_LIST: readonly string[] = Object.freeze([
  // AWS documentation's example access key pair.
  'AKIAIOSFODNN7EXAMPLE',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  'ASIAIOSFODNN7EXAMPLE',
]);

export interface DetectorSettings {
  /** Built-in detector ids to leave out. */
  readonly disable?: readonly string[];
  readonly locales?: readonly Locale[];
  readonly phone?: { readonly enabled: boolean; readonly requireContext: boolean };
  readonly ip?: { readonly enabled: boolean; readonly requireContext: boolean; readonly includePrivate: boolean };
  readonly allowList?: readonly string[];
  readonly custom?: readonly CustomDetectorSpec[];
  readonly limits?: ScanLimits;
}

/** Every built-in detector id (for schema validation of `disable` and action selectors). */
export const BUILTIN_DETECTOR_IDS: readonly string[] = [
  ...SECRET_DETECTORS.map((d) => d.id),
  email.id, paymentCard.id, iban.id, 'pii.phone_number', 'pii.ip_address',
  ...Object.values(LOCALE_DETECTORS).flat().map((d) => d.id),
];

/** The enabled detector list for these settings (defaults: all secrets, email, card, IBAN, every locale; no phone or IP). */
export function buildDetectors(settings: DetectorSettings = {}): Detector[] {
  const disabled = new Set(settings.disable ?? []);
  const list: Detector[] = [...SECRET_DETECTORS, email, paymentCard, iban];
  for (const loc of settings.locales ?? (['us', 'gb', 'es', 'de'] as const)) list.push(...LOCALE_DETECTORS[loc]);
  if (settings.phone?.enabled === true) list.push(phoneNumber({ requireContext: settings.phone.requireContext }));
  if (settings.ip?.enabled === true) list.push(ipAddress({ requireContext: settings.ip.requireContext, includePrivate: settings.ip.includePrivate }));
  const out = list.filter((d) => !disabled.has(d.id));
  for (const c of settings.custom ?? []) out.push(customDetector(c));
  return out;
}

export function buildScanner(settings: DetectorSettings = {}): Scanner {
  return new Scanner(buildDetectors(settings), {
    limits: settings.limits ?? DEFAULT_SCAN_LIMITS,
    allowList: settings.allowList ?? DEFAULT_ALLOW_LIST,
  });
}
