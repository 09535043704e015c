// NetworkPolicies: validation lives with the policy engine
// (src/policy/validation.ts); here the defaults and the printer.
import { validateNetworkPolicy } from '../../policy/validation.ts';
import { asList, asObj, child, defaultProtocols, setDefault } from './checks.ts';
import { ageCell, col, printer, record, selectorText } from './printer.ts';
import type { KindStrategy } from './strategy.ts';

export const networkPolicyStrategy: KindStrategy = {
  groupResource: 'networkpolicies.networking.k8s.io',
  topLevelFields: ['spec'],
  validate: validateNetworkPolicy,
  defaults(o) {
    const spec = child(o, 'spec');
    setDefault(spec, 'podSelector', {});
    if (spec.policyTypes === undefined || asList(spec.policyTypes).length === 0) {
      spec.policyTypes = spec.egress !== undefined && spec.egress !== null ? ['Ingress', 'Egress'] : ['Ingress'];
    }
    for (const r of asList(spec.ingress)) defaultProtocols(asObj(r)?.ports);
    for (const r of asList(spec.egress)) defaultProtocols(asObj(r)?.ports);
  },
  printer: printer([[col('Pod-Selector', 'podSelector selects the pods to which this NetworkPolicy object applies.'), (o) => selectorText(record(o.spec).podSelector)], ageCell]),
};
