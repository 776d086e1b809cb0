using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using MoePlan.Core.Diagnostics;
using Diagnostic = MoePlan.Core.Diagnostics.Diagnostic;

namespace MoePlan.Scripting;

/// <summary>
/// The confinement check: every symbol and type a script's syntax binds to must be on the allow-list (the
/// scheduler API, core value types, System.Math, System.Collections.Generic, System.Linq), and a few
/// constructs are rejected outright (unsafe code, dynamic, async, lock, catch-all, mutable static state).
/// An allow-list, so anything not named here (I/O, networking, processes, the environment, reflection,
/// interop, threads, tasks, the clock, randomness) is rejected; the deny reasons only word the message.
/// </summary>
internal sealed class ScriptConfinement
{
    /// <summary>Namespaces whose every type a script may use.</summary>
    private static readonly HashSet<string> AllowedNamespaces = ["MoePlan.Scheduling", "System.Collections.Generic", "System.Linq"];

    /// <summary>Types of the System namespace a script may use (metadata names).</summary>
    private static readonly HashSet<string> AllowedSystemTypes =
    [
        "Object", "String", "Boolean", "Char", "Byte", "SByte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
        "Single", "Double", "Decimal", "Half", "Void", "Math", "MathF", "MidpointRounding", "Nullable", "Nullable`1", "Array",
        "Index", "Range", "StringComparison", "StringComparer", "IComparable", "IComparable`1", "IEquatable`1", "IDisposable",
        "ValueTuple", "ValueTuple`1", "ValueTuple`2", "ValueTuple`3", "ValueTuple`4", "ValueTuple`5", "ValueTuple`6", "ValueTuple`7", "ValueTuple`8",
        "Action", "Action`1", "Action`2", "Action`3", "Action`4", "Func`1", "Func`2", "Func`3", "Func`4", "Func`5",
        "Predicate`1", "Comparison`1", "Converter`2",
        "Exception", "ArgumentException", "ArgumentOutOfRangeException", "InvalidOperationException", "NotSupportedException", "NotImplementedException",
        "ArithmeticException", "OverflowException", "DivideByZeroException", "IndexOutOfRangeException", "FormatException",
    ];

    /// <summary>Members of allowed types that still reach reflection.</summary>
    private static readonly HashSet<string> DeniedMembers = ["GetType", "CreateInstance", "CreateInstanceFromArrayType", "MemberwiseClone"];

    /// <summary>Size arguments of BCL calls the budget bounds (e.g. new List&lt;T&gt;(capacity), Enumerable.Repeat(x, count)).</summary>
    internal static readonly HashSet<string> SizeParameters = ["count", "capacity", "length", "repeatCount", "totalWidth", "newSize", "minimumLength", "size"];

    private readonly SemanticModel _model;
    private readonly IAssemblySymbol _script;
    private readonly string _path;
    private readonly List<Diagnostic> _diagnostics = [];
    private readonly HashSet<string> _reported = [];

    private ScriptConfinement(SemanticModel model, string path)
    {
        this._model = model;
        this._path = path;
        _script = model.Compilation.Assembly;
    }

    /// <summary>Directives that would reach outside the script (<c>#r</c>, <c>#load</c>); checked before compiling.</summary>
    public static IReadOnlyList<Diagnostic> CheckDirectives(SyntaxTree tree, string path) =>
        tree.GetRoot().DescendantTrivia(descendIntoTrivia: true)
            .Where(t => t.IsKind(SyntaxKind.ReferenceDirectiveTrivia) || t.IsKind(SyntaxKind.LoadDirectiveTrivia))
            .Select(t => DiagnosticCodes.ScriptDirective.Create(ScriptLocation.Of(path, t.GetLocation()), t.IsKind(SyntaxKind.ReferenceDirectiveTrivia) ? "#r" : "#load"))
            .ToList();

    public static IReadOnlyList<Diagnostic> Check(SemanticModel model, string path)
    {
        var check = new ScriptConfinement(model, path);
        foreach (var node in model.SyntaxTree.GetRoot().DescendantNodes())
        {
            check.Visit(node);
        }

        return check._diagnostics;
    }

    private void Visit(SyntaxNode node)
    {
        switch (node)
        {
            case PointerTypeSyntax or FunctionPointerTypeSyntax:
                Construct(node, "a pointer type");
                return;
            case UnsafeStatementSyntax:
                Construct(node, "unsafe code");
                return;
            case FixedStatementSyntax:
                Construct(node, "a fixed statement");
                return;
            case StackAllocArrayCreationExpressionSyntax:
                Construct(node, "stackalloc");
                return;
            case LockStatementSyntax:
                Construct(node, "lock (threads)");
                return;
            case DestructorDeclarationSyntax:
                // The GC's finalizer thread would run it outside every hook call, so outside the budget.
                Construct(node, "a finalizer");
                return;
            case AwaitExpressionSyntax:
                Construct(node, "await (tasks)");
                return;
            case MakeRefExpressionSyntax or RefTypeExpressionSyntax or RefValueExpressionSyntax:
                Construct(node, "__makeref/__reftype/__refvalue");
                return;
            case CatchClauseSyntax c:
                CheckCatch(c);
                break;
            case FieldDeclarationSyntax f:
                CheckStaticField(f);
                break;
            case PropertyDeclarationSyntax p:
                CheckStaticProperty(p);
                break;
            case EventFieldDeclarationSyntax e when e.Modifiers.Any(SyntaxKind.StaticKeyword):
                StaticState(e, e.Declaration.Variables[0].Identifier.Text);
                break;
            case MemberDeclarationSyntax or LocalFunctionStatementSyntax or AnonymousFunctionExpressionSyntax:
                CheckModifiers(node);
                break;
        }

        if (node is ArgumentListSyntax && node.Parent is InvocationExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.Text: "__arglist" } })
        {
            Construct(node, "__arglist");
        }

        if (node is ExpressionSyntax or AttributeSyntax)
        {
            var symbol = _model.GetSymbolInfo(node).Symbol;
            if (symbol is not null)
            {
                CheckSymbol(node, symbol);
            }

            if (node is ExpressionSyntax)
            {
                var info = _model.GetTypeInfo(node);
                CheckType(node, info.Type);
                CheckType(node, info.ConvertedType);
            }
        }
    }

    private void CheckModifiers(SyntaxNode node)
    {
        var modifiers = node switch
        {
            MemberDeclarationSyntax m => m.Modifiers,
            LocalFunctionStatementSyntax l => l.Modifiers,
            AnonymousFunctionExpressionSyntax a => a.Modifiers,
            _ => default,
        };
        foreach (var m in modifiers)
        {
            switch (m.Kind())
            {
                case SyntaxKind.UnsafeKeyword:
                    Construct(m, "unsafe code");
                    break;
                case SyntaxKind.ExternKeyword:
                    Construct(m, "an extern (native) method");
                    break;
                case SyntaxKind.AsyncKeyword:
                    Construct(m, "async (tasks)");
                    break;
                case SyntaxKind.VolatileKeyword:
                    Construct(m, "volatile (threads)");
                    break;
            }
        }
    }

    private void CheckCatch(CatchClauseSyntax c)
    {
        var type = c.Declaration is { } d ? _model.GetTypeInfo(d.Type).Type : null;
        // A catch of Exception (or none) would swallow the budget's stop; a filter cannot be trusted to rethrow it.
        // A catch of a type parameter is one too: a generic helper instantiated with Exception.
        if (type is null || type is ITypeParameterSymbol || type.SpecialType == SpecialType.System_Object || (type.Name == "Exception" && type.ContainingNamespace?.ToDisplayString() == "System"))
        {
            Report(DiagnosticCodes.ScriptCatchAll.Create(ScriptLocation.Of(_path, c.CatchKeyword.GetLocation())), c.CatchKeyword.SpanStart);
        }
    }

    private void CheckStaticField(FieldDeclarationSyntax f)
    {
        if (!f.Modifiers.Any(SyntaxKind.StaticKeyword) || f.Modifiers.Any(SyntaxKind.ConstKeyword))
        {
            return;
        }

        var type = _model.GetTypeInfo(f.Declaration.Type).Type;
        if (!f.Modifiers.Any(SyntaxKind.ReadOnlyKeyword) || !IsImmutable(type))
        {
            StaticState(f, f.Declaration.Variables[0].Identifier.Text);
        }
    }

    private void CheckStaticProperty(PropertyDeclarationSyntax p)
    {
        if (!p.Modifiers.Any(SyntaxKind.StaticKeyword) || p.AccessorList is null)
        {
            return;
        }

        // An auto-property (accessors without bodies) is a hidden field.
        bool auto = p.AccessorList.Accessors.All(a => a.Body is null && a.ExpressionBody is null);
        bool writable = p.AccessorList.Accessors.Any(a => a.IsKind(SyntaxKind.SetAccessorDeclaration) || a.IsKind(SyntaxKind.InitAccessorDeclaration));
        if (auto && (writable || !IsImmutable(_model.GetTypeInfo(p.Type).Type)))
        {
            StaticState(p, p.Identifier.Text);
        }
    }

    private static bool IsImmutable(ITypeSymbol? type) =>
        type is not null && (type.TypeKind == TypeKind.Enum || type.SpecialType is >= SpecialType.System_Boolean and <= SpecialType.System_String);

    private void StaticState(SyntaxNode node, string name) =>
        Report(DiagnosticCodes.ScriptStaticState.Create(ScriptLocation.Of(_path, node.GetLocation()), name), node.SpanStart);

    private void Construct(SyntaxNodeOrToken at, string what) =>
        Report(DiagnosticCodes.ScriptForbiddenConstruct.Create(ScriptLocation.Of(_path, at.GetLocation()!), what), at.SpanStart);

    private void Report(Diagnostic d, int position)
    {
        // Once per position and once per message and line: a node and its parts often bind to the same forbidden symbol.
        if (_reported.Add(position.ToString(System.Globalization.CultureInfo.InvariantCulture)) && _reported.Add(d.Span!.Value.Line + ":" + d.Message))
        {
            _diagnostics.Add(d);
        }
    }

    private void CheckSymbol(SyntaxNode node, ISymbol symbol)
    {
        switch (symbol)
        {
            case INamespaceSymbol:
                return;
            case IAliasSymbol alias:
                CheckSymbol(node, alias.Target);
                return;
            case ITypeSymbol type:
                CheckType(node, type);
                return;
            case ILocalSymbol local:
                CheckType(node, local.Type);
                return;
            case IParameterSymbol parameter:
                CheckType(node, parameter.Type);
                return;
            case IMethodSymbol method:
                method = method.ReducedFrom ?? method;
                if (method.MethodKind is MethodKind.LambdaMethod or MethodKind.LocalFunction)
                {
                    return;
                }

                foreach (var t in method.TypeArguments)
                {
                    CheckType(node, t);
                }

                break;
        }

        if (symbol is IMethodSymbol { Name: "GetHashCode", IsImplicitlyDeclared: true } && symbol.ContainingType is { } record && FromScript(record))
        {
            // A record's generated GetHashCode hashes its members, strings with the per-process seed.
            Forbidden(node, $"{record.Name}.GetHashCode", "a record's hash combines its members' hashes, randomised per process for strings; use StableHash");
            return;
        }

        if (symbol.ContainingType is { } owner && !FromScript(owner))
        {
            if (DeniedMembers.Contains(symbol.Name))
            {
                Forbidden(node, $"{owner.Name}.{symbol.Name}", "reflection");
                return;
            }

            if (symbol is IMethodSymbol { Name: "GetHashCode" } && !HasStableHash(owner))
            {
                Forbidden(node, $"{owner.Name}.GetHashCode", "string hashes (and so those of objects, tuples and comparers) are randomised per process, so runs would differ; use StableHash.Of");
                return;
            }

            CheckType(node, owner);
        }
    }

    /// <summary>Numbers, booleans, characters and enums hash their value: the same in every process.</summary>
    private static bool HasStableHash(INamedTypeSymbol type) =>
        type.TypeKind == TypeKind.Enum || type.SpecialType is SpecialType.System_Boolean or SpecialType.System_Char
            or (>= SpecialType.System_SByte and <= SpecialType.System_Double) or SpecialType.System_Enum;

    private bool FromScript(ISymbol symbol) => SymbolEqualityComparer.Default.Equals(symbol.ContainingAssembly, _script);

    private void CheckType(SyntaxNode node, ITypeSymbol? type)
    {
        switch (type)
        {
            case null or ITypeParameterSymbol:
                return;
            case IArrayTypeSymbol array:
                CheckType(node, array.ElementType);
                return;
            case IPointerTypeSymbol or IFunctionPointerTypeSymbol:
                Construct(node, "a pointer type");
                return;
            case IDynamicTypeSymbol:
                Construct(node, "dynamic");
                return;
            case INamedTypeSymbol named:
                foreach (var t in named.TypeArguments)
                {
                    CheckType(node, t);
                }

                if (named.IsAnonymousType || FromScript(named))
                {
                    return;
                }

                var outer = named.OriginalDefinition;
                while (outer.ContainingType is { } c)
                {
                    outer = c;
                }

                string ns = outer.ContainingNamespace?.ToDisplayString() ?? "";
                if (!AllowedNamespaces.Contains(ns) && !(ns == "System" && AllowedSystemTypes.Contains(outer.MetadataName)))
                {
                    Forbidden(node, named.ToDisplayString(), Reason(ns, outer.Name));
                }

                return;
        }
    }

    private void Forbidden(SyntaxNode node, string name, string reason) =>
        Report(DiagnosticCodes.ScriptForbiddenApi.Create(ScriptLocation.Of(_path, node.GetLocation()), name, reason), node.SpanStart);

    /// <summary>The message's reason (the decision itself is the allow-list).</summary>
    private static string Reason(string ns, string type) => (ns, type) switch
    {
        ("System", "Environment") => "the process environment is off limits",
        ("System", "Console") => "console I/O is off limits",
        ("System", "GC") => "the garbage collector is off limits",
        ("System", "Type" or "Activator" or "AppDomain" or "Delegate" or "MulticastDelegate") => "reflection is off limits",
        ("System", "DateTime" or "DateTimeOffset" or "Random" or "Guid") => "clocks and randomness would make runs irreproducible",
        _ when ns == "System.IO" || ns.StartsWith("System.IO.", StringComparison.Ordinal) => "file and stream I/O is off limits",
        _ when ns.StartsWith("System.Net", StringComparison.Ordinal) => "networking is off limits",
        _ when ns.StartsWith("System.Diagnostics", StringComparison.Ordinal) => "processes and diagnostics are off limits",
        _ when ns.StartsWith("System.Reflection", StringComparison.Ordinal) => "reflection is off limits",
        _ when ns.StartsWith("System.Runtime", StringComparison.Ordinal) => "interop and runtime services are off limits",
        _ when ns.StartsWith("System.Threading", StringComparison.Ordinal) => "threads and tasks are off limits",
        _ when ns.StartsWith("MoePlan", StringComparison.Ordinal) => "a script sees only the scheduler API (MoePlan.Scheduling)",
        _ => "scripts may use only the scheduler API, core value types, System.Math, System.Collections.Generic and System.Linq",
    };
}
