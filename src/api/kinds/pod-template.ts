// The checks every owner of a pod template shares (Deployments, ReplicaSets,
// DaemonSets, StatefulSets, Jobs): a selector that matches the template's
// labels, and a template that is a valid pod template.
import { labelSelectorRequirements, matchesLabels } from '../../core/selectors.ts';
import type { LabelSelector, StatusCause } from '../../core/types.ts';
import { asList, asObj, cause, checkLabels, checkSelector, type Obj } from './checks.ts';
import { validatePodSpec } from './pod-spec.ts';

export interface TemplateRules {
  /** Whether the selector must be given (a Job's is generated when absent). */
  selectorRequired: boolean;
  /** Set: an empty selector is invalid for this kind (its lower-case name, for the message). */
  nonEmptySelectorFor?: string;
  /** The restart policies the template's pods may have. */
  restartPolicies: readonly string[];
}

/** `<field>.selector` matches `<field>.template`'s labels, and the template is a valid pod template. */
export function validateSelectorAndTemplate(field: string, spec: Obj, rules: TemplateRules): StatusCause[] {
  const out: StatusCause[] = [];
  const selector = asObj(spec.selector);
  const template = asObj(spec.template);
  if (!selector) {
    if (rules.selectorRequired) out.push(cause.required(`${field}.selector`));
  } else {
    const selCauses = checkSelector(`${field}.selector`, selector);
    out.push(...selCauses);
    const empty = Object.keys(asObj(selector.matchLabels) ?? {}).length === 0 && asList(selector.matchExpressions).length === 0;
    if (empty && rules.nonEmptySelectorFor) out.push(cause.invalid(`${field}.selector`, selector, `empty selector is invalid for ${rules.nonEmptySelectorFor}`));
    else if (selCauses.length === 0 && template) {
      const labels = asObj(asObj(template.metadata)?.labels) as Record<string, string> | undefined;
      if (!matchesLabels(labelSelectorRequirements(selector as LabelSelector), labels)) {
        out.push(cause.invalid(`${field}.template.metadata.labels`, labels ?? {}, '`selector` does not match template `labels`'));
      }
    }
  }
  if (!template) out.push(cause.required(`${field}.template`));
  else {
    out.push(...checkLabels(`${field}.template.metadata.labels`, asObj(template.metadata)?.labels));
    out.push(...validatePodSpec(`${field}.template.spec`, template.spec, { requireImage: false, restartPolicies: rules.restartPolicies }));
  }
  return out;
}
