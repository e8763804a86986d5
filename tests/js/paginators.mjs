// Walks every paginator of the AWS SDK for JavaScript v3's Kendra client against a Kendra endpoint, a
// small page at a time, plus one Query and one Retrieve; prints a JSON summary on stdout.
//   node tests/js/paginators.mjs <endpoint> <index id>   (or KENSAKU_ENDPOINT / KENSAKU_INDEX_ID)
// Credentials and region come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION).
import * as sdk from "@aws-sdk/client-kendra";

const endpoint = process.argv[2] ?? process.env.KENSAKU_ENDPOINT;
const indexId = process.argv[3] ?? process.env.KENSAKU_INDEX_ID;
if (!endpoint || !indexId) {
  console.error("usage: node paginators.mjs <endpoint> <index id>");
  process.exit(2);
}
const client = new sdk.KendraClient({ endpoint, region: process.env.AWS_REGION ?? "us-east-1", maxAttempts: 1 });
const PAGE = 2;
const LATEST_ORDERING_ID = 32535158400000; // the model's largest OrderingId: every group is older

// What each paginator lists: its input and the member of each page that holds the items (and an item's name).
const walks = {
  paginateListIndices: [{}, "IndexConfigurationSummaryItems", (x) => x.Id],
  paginateListDataSources: [{ IndexId: indexId }, "SummaryItems", (x) => x.Id],
  paginateListFaqs: [{ IndexId: indexId }, "FaqSummaryItems", (x) => x.Id],
  paginateListThesauri: [{ IndexId: indexId }, "ThesaurusSummaryItems", (x) => x.Id],
  paginateListAccessControlConfigurations: [{ IndexId: indexId }, "AccessControlConfigurations", (x) => x.Id],
  paginateListGroupsOlderThanOrderingId: [{ IndexId: indexId, OrderingId: LATEST_ORDERING_ID }, "GroupsSummaries",
    (x) => x.GroupId],
  paginateListQuerySuggestionsBlockLists: [{ IndexId: indexId }, "BlockListSummaryItems", (x) => x.Id],
  paginateGetSnapshots: [{ IndexId: indexId, Interval: "ONE_WEEK_AGO", MetricType: "TREND_QUERY_DOC_METRICS" },
    "SnapshotsData", (x) => x[0]],
  // Kensaku has no Experiences: these three are refused (a ValidationException pointing to its search page).
  paginateListExperiences: [{ IndexId: indexId }, "SummaryItems", (x) => x.Id],
  paginateListEntityPersonas: [{ IndexId: indexId, Id: "0".repeat(36) }, "SummaryItems", (x) => x.EntityId],
  paginateListExperienceEntities: [{ IndexId: indexId, Id: "0".repeat(36) }, "SummaryItems", (x) => x.EntityId],
};

async function walk(paginate, input, member, name) {
  const out = { pages: 0, items: [], pageSizes: [] };
  try {
    for await (const page of paginate({ client, pageSize: PAGE }, input)) {
      const items = page[member] ?? [];
      out.pages += 1;
      out.pageSizes.push(items.length);
      out.items.push(...items.map(name));
    }
  } catch (err) {
    out.error = { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  return out;
}

const summary = {
  sdkVersion: null,
  exported: Object.keys(sdk).filter((k) => k.startsWith("paginate")).sort(),
  paginators: {},
};
try {
  const { createRequire } = await import("node:module");
  summary.sdkVersion = createRequire(import.meta.url)("@aws-sdk/client-kendra/package.json").version;
} catch {
  // the version is informative only
}

for (const name of summary.exported) {
  if (!(name in walks)) {
    summary.paginators[name] = { error: { name: "NotCovered", message: "paginators.mjs does not know its input" } };
    continue;
  }
  const [input, member, itemName] = walks[name];
  summary.paginators[name] = await walk(sdk[name], input, member, itemName);
}

// The sync jobs of each data source (the paginator needs a data source id).
const sources = summary.paginators.paginateListDataSources?.items ?? [];
summary.syncJobs = {};
for (const id of sources) {
  summary.syncJobs[id] = await walk(sdk.paginateListDataSourceSyncJobs, { IndexId: indexId, Id: id }, "History",
    (x) => x.ExecutionId);
}
delete summary.paginators.paginateListDataSourceSyncJobs;

// ListFeaturedResultsSets has no paginator in the SDK: its NextToken followed by hand.
{
  const out = { pages: 0, items: [], pageSizes: [] };
  try {
    let token;
    do {
      const page = await client.send(new sdk.ListFeaturedResultsSetsCommand({ IndexId: indexId, MaxResults: PAGE,
        NextToken: token }));
      const items = page.FeaturedResultsSetSummaryItems ?? [];
      out.pages += 1;
      out.pageSizes.push(items.length);
      out.items.push(...items.map((x) => x.FeaturedResultsSetId));
      token = page.NextToken;
    } while (token);
  } catch (err) {
    out.error = { name: err.name, message: err.message };
  }
  summary.featuredResultsSets = out;
}

for (const [key, Command, input] of [
  ["query", sdk.QueryCommand, { IndexId: indexId, QueryText: "renewal", PageSize: 2 }],
  ["retrieve", sdk.RetrieveCommand, { IndexId: indexId, QueryText: "renewal", PageSize: 2 }],
]) {
  try {
    const r = await client.send(new Command(input));
    summary[key] = {
      total: r.TotalNumberOfResults ?? null,
      ids: (r.ResultItems ?? []).map((x) => x.DocumentId),
      queryId: r.QueryId ?? null,
    };
  } catch (err) {
    summary[key] = { error: { name: err.name, message: err.message } };
  }
}

process.stdout.write(JSON.stringify(summary, null, 1) + "\n");
