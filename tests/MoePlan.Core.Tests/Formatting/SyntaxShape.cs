using System.Text;
using MoePlan.Core.Syntax;

namespace MoePlan.Core.Tests.Formatting;

/// <summary>A syntax tree rendered without ranges, so two parses of differently laid out text can be compared.</summary>
internal static class SyntaxShape
{
    public static string Of(FileSyntax file)
    {
        var text = new StringBuilder();
        foreach (var statement in file.Statements)
        {
            switch (statement)
            {
                case ImportSyntax import:
                    text.Append("(import ").Append(import.Path.Text).Append(')');
                    break;
                case LetSyntax let:
                    text.Append("(let ").Append(let.Name.Name).Append(' ');
                    Expression(text, let.Value);
                    text.Append(')');
                    break;
                case DeploymentSyntax deployment:
                    text.Append("(deployment ").Append(deployment.Name.Text).Append(' ');
                    Block(text, deployment.Body);
                    text.Append(')');
                    break;
                default:
                    throw new InvalidOperationException(statement.GetType().Name);
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>The comments' texts in order, without trailing white space.</summary>
    public static IReadOnlyList<string> Comments(FileSyntax file) => file.Comments.Select(c => c.Text.TrimEnd()).ToList();

    private static void Block(StringBuilder text, BlockSyntax block)
    {
        text.Append('{');
        foreach (var setting in block.Settings)
        {
            text.Append('[').Append(setting.Name.Name);
            foreach (var argument in setting.Arguments)
            {
                text.Append(' ');
                if (argument is OperatorSyntax op)
                {
                    text.Append("op:").Append(op.Text);
                }
                else
                {
                    Expression(text, (ExpressionSyntax)argument);
                }
            }

            if (setting.Block is { } child)
            {
                text.Append(' ');
                Block(text, child);
            }

            text.Append(']');
        }

        text.Append('}');
    }

    private static void Expression(StringBuilder text, ExpressionSyntax expression)
    {
        switch (expression)
        {
            case NumberLiteralSyntax n:
                text.Append("num:").Append(n.Text);
                break;
            case QuantityLiteralSyntax q:
                text.Append("qty:").Append(q.Text);
                break;
            case StringLiteralSyntax s:
                text.Append("str:").Append(s.Text);
                break;
            case IdentifierSyntax i:
                text.Append("id:").Append(i.Name);
                break;
            case BinaryExpressionSyntax b:
                text.Append('(');
                Expression(text, b.Left);
                text.Append(' ').Append(b.Operator).Append(' ');
                Expression(text, b.Right);
                text.Append(')');
                break;
            case NegationSyntax neg:
                text.Append("(neg ");
                Expression(text, neg.Operand);
                text.Append(')');
                break;
            case ParenthesizedSyntax p:
                text.Append("(paren ");
                Expression(text, p.Inner);
                text.Append(')');
                break;
            default:
                throw new InvalidOperationException(expression.GetType().Name);
        }
    }
}
