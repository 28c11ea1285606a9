namespace Jobplane.Bench;

public static class Percentiles
{
    /// <summary>The nearest-rank percentile (0..100) of the values.</summary>
    public static double Of(IReadOnlyList<double> values, double percentile)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
