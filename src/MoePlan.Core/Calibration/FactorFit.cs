using System.Collections.Immutable;
using MoePlan.Core.Cost;

namespace MoePlan.Core.Calibration;

/// <summary>One case's measured figure, the prediction with the fitted factors, and their relative error.</summary>
public sealed record CaseResidual(string Name, string Metric, double Measured, double Predicted)
{
    /// <summary>predicted / measured - 1.</summary>
    public double Error => (Predicted / Measured) - 1;
}

/// <summary>A free factor's fitted value next to the family's value it started from.</summary>
/// <param name="Identified">False when no case's prediction moves as the factor spans its bounds: the cases say nothing
/// about it and it keeps <paramref name="Prior"/>.</param>
public sealed record FittedFactor(FreeFactor Factor, double Value, double Prior, bool Identified);

/// <summary>What <see cref="FactorFit.Fit"/> found: the factors, each free one with its bounds, and the residual of every case.</summary>
public sealed record FitResult(string Family, EfficiencyFactors Factors, ImmutableArray<FittedFactor> Fitted, ImmutableArray<CaseResidual> Residuals)
{
    public double MaxAbsError => Residuals.IsEmpty ? 0 : Residuals.Max(r => Math.Abs(r.Error));

    public double SumOfSquares => Residuals.Sum(r => r.Error * r.Error);
}

/// <summary>A free factor (index into <see cref="FreeFactor.All"/>) held at a value during a fit.</summary>
public readonly record struct FactorPin(int Factor, double Value);

/// <summary>
/// Fits a family's free factors (<see cref="FreeFactor.All"/>) to measurements (docs/calibration.md, "Fit"): minimises the
/// largest |relative error| over the cases, ties broken by the sum of squared errors and then by the distance from the
/// family's factors, each factor inside its bounds. Over the factors scaled to [0, 1] within their bounds: Levenberg-Marquardt
/// on the sum of squares from the family's factors, then Nelder-Mead on the largest error from that point and from the
/// family's factors, restarted until it stops improving: deterministic (no random numbers), and cheap because a case's plan is compiled and placed once and only the cost model reruns.
/// </summary>
public static class FactorFit
{
    /// <summary>A factor whose effect on the cases' errors is less than this share its own (after what the factors chosen
    /// before it explain) is not identified by the cases.</summary>
    public const double IdentifiedShare = 0.1;

    /// <summary>A factor that moves no case's error by this much over a tenth of its range does nothing the cases see.</summary>
    private const double NoEffect = 1e-5;

    // The tie-breakers are scaled far below the errors that matter (0.1% of the largest error is 1e-3).
    private const double SumOfSquaresWeight = 1e-4;
    private const double PriorDistanceWeight = 1e-8;

    /// <param name="pinned">A factor held at a value (by index into <see cref="FreeFactor.All"/>) while the others are fitted:
    /// how <see cref="IndistinguishableFactors"/> walks along what the cases cannot tell apart.</param>
    public static FitResult Fit(IReadOnlyList<PreparedMeasurement> cases, EfficiencyFactors? start = null, FactorPin? pinned = null)
    {
        ArgumentNullException.ThrowIfNull(cases);
        if (cases.Count == 0)
        {
            throw new ArgumentException("at least one case", nameof(cases));
        }

        var family = cases[0].Family;
        var prior = start ?? EfficiencyFactors.For(family);
        var free = FreeFactor.All;
        if (pinned is { } pin)
        {
            prior = free[pin.Factor].With(prior, pin.Value);
        }

        var active = Identifiable(cases, prior);
        if (pinned is { } held)
        {
            active = active.Remove(held.Factor);
        }

        var u0 = active.Select(k => free[k].Normalize(free[k].Get(prior))).ToArray();

        EfficiencyFactors FactorsAt(double[] u)
        {
            var f = prior;
            for (var j = 0; j < active.Length; j++)
            {
                f = free[active[j]].With(f, free[active[j]].Denormalize(u[j]));
            }

            return f;
        }

        double Objective(double[] u)
        {
            var f = FactorsAt(u);
            var max = 0.0;
            var squares = 0.0;
            foreach (var c in cases)
            {
                var e = c.Error(f);
                if (!double.IsFinite(e))
                {
                    return double.MaxValue;
                }

                max = Math.Max(max, Math.Abs(e));
                squares += e * e;
            }

            var distance = 0.0;
            for (var j = 0; j < u.Length; j++)
            {
                distance += (u[j] - u0[j]) * (u[j] - u0[j]);
            }

            return max + (SumOfSquaresWeight * squares) + (PriorDistanceWeight * distance);
        }

        var best = u0;
        if (active.Length > 0)
        {
            // Least squares first (smooth: Levenberg-Marquardt converges where the largest-error surface has kinks), then
            // the largest error from there and from the family's factors; the better end wins.
            double[] Errors(double[] u)
            {
                var f = FactorsAt(u);
                return [.. cases.Select(c => c.Error(f))];
            }

            var leastSquares = LevenbergMarquardt(Errors, u0);
            var fromLeastSquares = Minimize(Objective, leastSquares);
            var fromPrior = Minimize(Objective, u0);
            best = fromLeastSquares.Value <= fromPrior.Value ? fromLeastSquares.Point : fromPrior.Point;
        }

        var fitted = FactorsAt(best);
        var activeSet = active.ToHashSet();
        return new FitResult(
            family,
            fitted,
            [.. free.Select((f, k) => new FittedFactor(f, f.Get(fitted), f.Get(prior), activeSet.Contains(k)))],
            [.. cases.Select(c => new CaseResidual(c.Measurement.Name, c.Measurement.Metric.Name, c.Measurement.Value, c.Predict(fitted)))]);
    }

    /// <summary>
    /// The free factors the cases determine, by index into <see cref="FreeFactor.All"/>: a pivoted Gram-Schmidt over the
    /// columns of the Jacobian of the cases' relative errors by each factor (scaled to its bounds, central differences of a
    /// tenth of the range at the family's factors). The factor with the largest effect not yet explained by those chosen
    /// is chosen next while that unexplained part is at least <see cref="IdentifiedShare"/> of its whole effect: a factor
    /// whose effect on every case is (nearly) a combination of the others', or none, cannot be told apart by these cases
    /// and keeps the family's value. Deterministic: ties go to the factor listed first.
    /// </summary>
    public static ImmutableArray<int> Identifiable(IReadOnlyList<PreparedMeasurement> cases, EfficiencyFactors prior)
    {
        ArgumentNullException.ThrowIfNull(cases);
        ArgumentNullException.ThrowIfNull(prior);
        var free = FreeFactor.All;
        const double Step = 0.05;
        var columns = new double[free.Length][];
        for (var k = 0; k < free.Length; k++)
        {
            var f = free[k];
            var u = f.Normalize(f.Get(prior));
            var (low, high) = (Math.Max(0, u - Step), Math.Min(1, u + Step));
            var atLow = f.With(prior, f.Denormalize(low));
            var atHigh = f.With(prior, f.Denormalize(high));
            columns[k] = [.. cases.Select(c => (c.Error(atHigh) - c.Error(atLow)) / (high - low))];
        }

        static double Norm(double[] v) => Math.Sqrt(v.Sum(x => x * x));
        var basis = new List<double[]>();
        var chosen = new List<int>();
        var remaining = Enumerable.Range(0, free.Length).Where(k => Norm(columns[k]) * 2 * Step > NoEffect).ToList();
        while (remaining.Count > 0 && basis.Count < cases.Count)
        {
            var best = -1;
            double[]? bestResidual = null;
            var bestNorm = 0.0;
            foreach (var k in remaining)
            {
                var r = (double[])columns[k].Clone();
                foreach (var b in basis)
                {
                    var dot = r.Select((x, i) => x * b[i]).Sum();
                    for (var i = 0; i < r.Length; i++)
                    {
                        r[i] -= dot * b[i];
                    }
                }

                var n = Norm(r);
                if (n >= IdentifiedShare * Norm(columns[k]) && n > bestNorm)
                {
                    (best, bestResidual, bestNorm) = (k, r, n);
                }
            }

            if (best < 0)
            {
                break;
            }

            basis.Add([.. bestResidual!.Select(x => x / bestNorm)]);
            chosen.Add(best);
            remaining.Remove(best);
        }

        return [.. chosen.Order()];
    }

    /// <summary>Least squares of <paramref name="errors"/> in the unit cube (steps clamped into it), forward-difference Jacobian.</summary>
    internal static double[] LevenbergMarquardt(Func<double[], double[]> errors, double[] start)
    {
        var n = start.Length;
        var x = start.Select(v => Math.Clamp(v, 0, 1)).ToArray();
        var r = errors(x);
        var cost = r.Sum(e => e * e);
        var lambda = 1e-3;
        for (var iteration = 0; iteration < 100 && double.IsFinite(cost); iteration++)
        {
            var jacobian = new double[n][];
            for (var k = 0; k < n; k++)
            {
                const double H = 1e-5;
                var step = x[k] + H <= 1 ? H : -H;
                var shifted = (double[])x.Clone();
                shifted[k] += step;
                var rk = errors(shifted);
                jacobian[k] = [.. rk.Select((e, i) => (e - r[i]) / step)];
            }

            var a = new double[n, n];
            var g = new double[n];
            for (var i = 0; i < n; i++)
            {
                g[i] = jacobian[i].Select((v, c) => v * r[c]).Sum();
                for (var j = 0; j < n; j++)
                {
                    a[i, j] = jacobian[i].Select((v, c) => v * jacobian[j][c]).Sum();
                }
            }

            var improved = false;
            while (lambda < 1e10)
            {
                var damped = (double[,])a.Clone();
                for (var i = 0; i < n; i++)
                {
                    damped[i, i] += (lambda * a[i, i]) + (lambda * 1e-9);
                }

                var delta = Solve(damped, [.. g.Select(v => -v)]);
                if (delta is null)
                {
                    lambda *= 4;
                    continue;
                }

                var candidate = x.Select((v, i) => Math.Clamp(v + delta[i], 0, 1)).ToArray();
                var candidateErrors = errors(candidate);
                var candidateCost = candidateErrors.Sum(e => e * e);
                if (double.IsFinite(candidateCost) && candidateCost < cost)
                {
                    var gain = cost - candidateCost;
                    (x, r, cost) = (candidate, candidateErrors, candidateCost);
                    lambda = Math.Max(1e-9, lambda / 3);
                    improved = gain > 1e-14;
                    break;
                }

                lambda *= 4;
            }

            if (!improved)
            {
                break;
            }
        }

        return x;
    }

    /// <summary>Gaussian elimination with partial pivoting; null when the matrix is singular.</summary>
    private static double[]? Solve(double[,] a, double[] b)
    {
        var n = b.Length;
        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            for (var row = col + 1; row < n; row++)
            {
                if (Math.Abs(a[row, col]) > Math.Abs(a[pivot, col]))
                {
                    pivot = row;
                }
            }

            if (Math.Abs(a[pivot, col]) < 1e-300)
            {
                return null;
            }

            if (pivot != col)
            {
                for (var k = 0; k < n; k++)
                {
                    (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
                }

                (b[col], b[pivot]) = (b[pivot], b[col]);
            }

            for (var row = col + 1; row < n; row++)
            {
                var factor = a[row, col] / a[col, col];
                for (var k = col; k < n; k++)
                {
                    a[row, k] -= factor * a[col, k];
                }

                b[row] -= factor * b[col];
            }
        }

        var x = new double[n];
        for (var row = n - 1; row >= 0; row--)
        {
            var sum = b[row];
            for (var k = row + 1; k < n; k++)
            {
                sum -= a[row, k] * x[k];
            }

            x[row] = sum / a[row, row];
        }

        return x;
    }

    /// <summary>Nelder-Mead in the unit cube (points clamped into it), restarted from its best point until a restart gains nothing.</summary>
    internal static (double[] Point, double Value) Minimize(Func<double[], double> f, double[] start)
    {
        var point = start.Select(x => Math.Clamp(x, 0, 1)).ToArray();
        var value = f(point);
        var step = 0.15;
        for (var restart = 0; restart < 4; restart++)
        {
            var (next, nextValue) = NelderMead(f, point, step);
            var gain = value - nextValue;
            if (nextValue < value)
            {
                (point, value) = (next, nextValue);
            }

            if (gain < 1e-7)
            {
                break;
            }

            step = Math.Max(0.02, step / 2);
        }

        return (point, value);
    }

    private static (double[] Point, double Value) NelderMead(Func<double[], double> f, double[] start, double step)
    {
        var n = start.Length;
        var simplex = new double[n + 1][];
        var values = new double[n + 1];
        simplex[0] = (double[])start.Clone();
        for (var k = 0; k < n; k++)
        {
            var vertex = (double[])start.Clone();
            // Step into the cube: a vertex on the far side of a bound would collapse onto the start.
            vertex[k] = start[k] + step <= 1 ? start[k] + step : start[k] - step;
            simplex[k + 1] = vertex;
        }

        for (var i = 0; i <= n; i++)
        {
            values[i] = f(simplex[i]);
        }

        var order = new int[n + 1];
        var evaluations = n + 1;
        var maxEvaluations = 150 * (n + 1);
        while (evaluations < maxEvaluations)
        {
            for (var i = 0; i <= n; i++)
            {
                order[i] = i;
            }

            // Stable order: equal values keep their index order, so the run is deterministic.
            Array.Sort(order, (a, b) => values[a] != values[b] ? values[a].CompareTo(values[b]) : a.CompareTo(b));
            var bestIndex = order[0];
            var worst = order[n];
            var secondWorst = order[n - 1];
            var size = 0.0;
            for (var i = 0; i <= n; i++)
            {
                for (var k = 0; k < n; k++)
                {
                    size = Math.Max(size, Math.Abs(simplex[i][k] - simplex[bestIndex][k]));
                }
            }

            if (size < 1e-5 || values[worst] - values[bestIndex] < 1e-10)
            {
                break;
            }

            var centroid = new double[n];
            for (var i = 0; i <= n; i++)
            {
                if (i == worst)
                {
                    continue;
                }

                for (var k = 0; k < n; k++)
                {
                    centroid[k] += simplex[i][k] / n;
                }
            }

            double[] Toward(double t)
            {
                var p = new double[n];
                for (var k = 0; k < n; k++)
                {
                    p[k] = Math.Clamp(centroid[k] + (t * (simplex[worst][k] - centroid[k])), 0, 1);
                }

                return p;
            }

            var reflected = Toward(-1);
            var reflectedValue = f(reflected);
            evaluations++;
            if (reflectedValue < values[bestIndex])
            {
                var expanded = Toward(-2);
                var expandedValue = f(expanded);
                evaluations++;
                (simplex[worst], values[worst]) = expandedValue < reflectedValue ? (expanded, expandedValue) : (reflected, reflectedValue);
                continue;
            }

            if (reflectedValue < values[secondWorst])
            {
                (simplex[worst], values[worst]) = (reflected, reflectedValue);
                continue;
            }

            var contracted = reflectedValue < values[worst] ? Toward(-0.5) : Toward(0.5);
            var contractedValue = f(contracted);
            evaluations++;
            if (contractedValue < Math.Min(values[worst], reflectedValue))
            {
                (simplex[worst], values[worst]) = (contracted, contractedValue);
                continue;
            }

            // Shrink towards the best vertex.
            for (var i = 0; i <= n; i++)
            {
                if (i == bestIndex)
                {
                    continue;
                }

                for (var k = 0; k < n; k++)
                {
                    simplex[i][k] = simplex[bestIndex][k] + (0.5 * (simplex[i][k] - simplex[bestIndex][k]));
                }

                values[i] = f(simplex[i]);
                evaluations++;
            }
        }

        var argmin = 0;
        for (var i = 1; i <= n; i++)
        {
            if (values[i] < values[argmin])
            {
                argmin = i;
            }
        }

        return (simplex[argmin], values[argmin]);
    }
}
