// @ts-check
/**
 * `shoal/must-use-result`: a neverthrow `Result` or `ResultAsync` must not be dropped on the floor.
 *
 * Reported:
 * - an expression statement whose value is a Result/ResultAsync (`log.truncate(5);`,
 *   `r.map(f);`): its error is silently ignored;
 * - a variable initialised with a Result/ResultAsync that is never read again.
 *
 * Handling it in any way (`isErr()`, `match`, `andThen`, returning it, passing it on, `await`ing it
 * into a variable that is then read) satisfies the rule; `void expr` is an explicit, visible discard.
 *
 * eslint-plugin-neverthrow (the obvious candidate) accepts only `match`/`unwrapOr`/`_unsafeUnwrap`
 * and reports every `if (r.isErr()) return …`, the idiom neverthrow's own docs use, so Shoal uses
 * this narrower rule instead.
 */

/** @param {import('typescript').Type} type */
function isResultType(type) {
  const parts = type.isUnion() ? type.types : [type];
  return parts.some((t) => {
    const props = ['andThen', 'orElse', 'match', 'mapErr'];
    return (
      props.every((p) => t.getProperty(p) !== undefined) &&
      (t.getProperty('isErr') !== undefined || t.getProperty('then') !== undefined)
    );
  });
}

/** @type {import('eslint').Rule.RuleModule} */
const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Require every neverthrow Result/ResultAsync to be handled' },
    messages: {
      dropped:
        'This {{kind}} is dropped: its error would be ignored. Handle it (isErr/match/andThen/return) or discard it explicitly with `void`.',
      unused: 'The {{kind}} in `{{name}}` is never read: its error would be ignored.',
    },
    schema: [],
  },
  create(context) {
    const services = context.sourceCode.parserServices;
    if (!services?.program || !services.esTreeNodeToTSNodeMap) {
      throw new Error('shoal/must-use-result needs type information (parserOptions.projectService)');
    }
    const checker = services.program.getTypeChecker();
    /** @param {import('estree').Node} node */
    const kindOf = (node) => {
      const tsNode = services.esTreeNodeToTSNodeMap.get(/** @type {any} */ (node));
      const type = checker.getTypeAtLocation(tsNode);
      if (!isResultType(type)) return undefined;
      return type.getProperty('then') !== undefined ? 'ResultAsync' : 'Result';
    };
    return {
      ExpressionStatement(node) {
        const expr = node.expression;
        if (expr.type === 'UnaryExpression' && expr.operator === 'void') return;
        if (expr.type === 'AssignmentExpression') return;
        const kind = kindOf(expr);
        if (kind) context.report({ node, messageId: 'dropped', data: { kind } });
      },
      VariableDeclarator(node) {
        if (node.id.type !== 'Identifier' || !node.init) return;
        const kind = kindOf(node.init);
        if (!kind) return;
        const variable = context.sourceCode
          .getDeclaredVariables(node)
          .find((v) => v.name === /** @type {any} */ (node.id).name);
        if (variable && variable.references.every((ref) => ref.init === true || ref.isWriteOnly())) {
          context.report({ node, messageId: 'unused', data: { kind, name: variable.name } });
        }
      },
    };
  },
};

export default rule;
