import type { FrameworkRef } from './control.ts';

/** Names of the framework items the controls cite, for the report. */
export const FRAMEWORK_TITLES: Readonly<Record<FrameworkRef, string>> = {
  NHI1: 'OWASP NHI1:2025 Improper Offboarding',
  NHI2: 'OWASP NHI2:2025 Secret Leakage',
  NHI3: 'OWASP NHI3:2025 Vulnerable Third-Party NHI',
  NHI4: 'OWASP NHI4:2025 Insecure Authentication',
  NHI5: 'OWASP NHI5:2025 Overprivileged NHI',
  NHI6: 'OWASP NHI6:2025 Insecure Cloud Deployment Configurations',
  NHI7: 'OWASP NHI7:2025 Long-Lived Secrets',
  NHI8: 'OWASP NHI8:2025 Environment Isolation',
  NHI9: 'OWASP NHI9:2025 NHI Reuse',
  NHI10: 'OWASP NHI10:2025 Human Use of NHI',
  LLM02: 'OWASP LLM02:2025 Sensitive Information Disclosure',
  LLM05: 'OWASP LLM05:2025 Improper Output Handling',
  LLM06: 'OWASP LLM06:2025 Excessive Agency',
  LLM10: 'OWASP LLM10:2025 Unbounded Consumption',
  'ZT-T1': 'NIST SP 800-207 tenet 1: all data sources and computing services are resources',
  'ZT-T2': 'NIST SP 800-207 tenet 2: all communication is secured regardless of network location',
  'ZT-T3': 'NIST SP 800-207 tenet 3: access is granted per session',
  'ZT-T4': 'NIST SP 800-207 tenet 4: access is determined by dynamic policy',
  'ZT-T5': 'NIST SP 800-207 tenet 5: the integrity and posture of all assets is monitored',
  'ZT-T6': 'NIST SP 800-207 tenet 6: authentication and authorization are dynamic and enforced before access',
  'ZT-T7': 'NIST SP 800-207 tenet 7: information on assets and traffic is collected to improve security',
};
