// Google Cloud: API keys (AIza + 35 base64url characters; the Firebase SDK's published samples are not reported) and service-account key files. In a service-account
// JSON the private key itself is caught by the private-key detector; this one reports the private_key_id value
// when "service_account" appears within 400 characters before it.
import { boundaryAt, contextWords, hasAt, hasContextWord, isBase64UrlChar, isDigit, looksLikePlaceholder, runEnd } from './chars.ts';
import type { CharDetector } from './detector.ts';

/**
 * Sample keys published in the Firebase Android SDK's own sources (github.com/firebase/firebase-android-sdk:
 * the FirebaseOptions javadoc and the test fixtures of firebase-common, -installations, -messaging, -perf,
 * -appdistribution, -config and -dataconnect's google-services.json), and four that its history holds: the
 * firebase-storage test fixtures of 2018-2019 (TestUtil.java from the initial open-source commit, the androidTest
 * IntegrationTest and StorageRegistrarTest) and firebase-dataconnect's google-services.json of 2024. They are in
 * every clone of that repository and in tutorials and ports copied from it: documentation, not credentials.
 */
const FIREBASE_SDK_SAMPLES = new Set([
  'AIzaSyDdVgKwhZl0sTTTLZ7iTmt1r3N2cJLnaDk',
  'AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0',
  'AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A',
  'AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ',
  'AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM',
  'AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY',
  'AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4',
  'AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c',
  'AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs',
  'AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU',
  'AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g',
  'AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw',
  // From the history.
  'AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM',
  'AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU',
  'AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE',
  'AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY',
]);

export const gcpApiKey: CharDetector = {
  kind: 'char',
  id: 'secret.gcp_api_key',
  type: 'GCP_API_KEY',
  triggers: 'A',
  next: 'I',
  maxLength: 39,
  at(text, i, report) {
    if (!hasAt(text, i, 'AIza') || !boundaryAt(text, i - 1, isBase64UrlChar)) return;
    const end = runEnd(text, i + 4, isBase64UrlChar, 36);
    if (end - i !== 39 || !boundaryAt(text, end, isBase64UrlChar) || looksLikePlaceholder(text, i + 4, end)) return;
    if (!FIREBASE_SDK_SAMPLES.has(text.slice(i, end))) report(i, end);
  },
};

const isHex = (c: number): boolean => isDigit(c) || (c >= 97 && c <= 102);
const KEY = 'private_key_id';
const SERVICE_ACCOUNT = contextWords(['service_account']);

export const gcpServiceAccount: CharDetector = {
  kind: 'char',
  id: 'secret.gcp_service_account',
  type: 'GCP_SERVICE_ACCOUNT',
  triggers: '_',
  prev: 'e',
  next: 'k',
  maxLength: 40,
  at(text, i, report) {
    // Called at the first '_' of "private_key_id".
    const s = i - 7;
    if (s < 0 || text.charCodeAt(i + 1) !== 107 || !hasAt(text, s, KEY)) return;
    if (!hasContextWord(text, s - 400, s, SERVICE_ACCOUNT)) return;
    // "private_key_id": "<40 hex>"
    let j = s + KEY.length;
    const limit = Math.min(text.length, j + 8);
    while (j < limit && (text.charCodeAt(j) === 34 || text.charCodeAt(j) === 58 || text.charCodeAt(j) === 32 || text.charCodeAt(j) === 92)) j++;
    const end = runEnd(text, j, isHex, 41);
    if (end - j === 40 && !looksLikePlaceholder(text, j, end)) report(j, end);
  },
};
