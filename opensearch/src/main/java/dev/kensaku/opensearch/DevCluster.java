package dev.kensaku.opensearch;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.codelibs.opensearch.runner.OpenSearchRunner;
import org.opensearch.action.admin.cluster.health.ClusterHealthResponse;
import org.opensearch.client.Requests;
import org.opensearch.cluster.health.ClusterHealthStatus;
import org.opensearch.node.Node;

/**
 * N OpenSearch nodes in this JVM, with the k-NN plugin, for development and tests.
 *
 * <p>Usage: {@code DevCluster NODES HTTP_PORT DATA_DIR [CLUSTER_NAME]}. Node 1 listens for HTTP on
 * HTTP_PORT, node i on HTTP_PORT + i - 1. When the cluster is green one line, {@code READY http://...},
 * is printed; the nodes stop when the process is terminated.
 *
 * <p>For fault tests, commands on standard input, one a line: {@code stop I} closes node I (1-based)
 * and prints {@code STOPPED I}; {@code start I} starts it again on its data folder and HTTP port, and
 * prints {@code STARTED I} once the cluster has N nodes again (its shards may still be recovering: wait
 * for green). A command that fails prints {@code FAILED <command>: <reason>}. The end of standard input
 * (none, or /dev/null) stops nothing.
 */
public final class DevCluster {
    private static final String KNN_PLUGIN = "org.opensearch.knn.plugin.KNNPlugin";

    private DevCluster() {
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length < 3) {
            System.err.println("usage: DevCluster NODES HTTP_PORT DATA_DIR [CLUSTER_NAME]");
            System.exit(2);
        }
        int nodes = Integer.parseInt(args[0]);
        int port = Integer.parseInt(args[1]);
        String clusterName = args.length > 3 ? args[3] : "kensaku-dev";
        OpenSearchRunner runner = new OpenSearchRunner();
        // Node i takes HTTP port base + i (the runner refuses ports past its maximum, 9299 by default);
        // transport ports from a range above them; nothing but loopback is bound.
        runner.setMaxHttpPort(port + nodes);
        runner.onBuild((index, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("transport.port", (port + 100) + "-" + (port + 199));
            settings.put("action.auto_create_index", "false");
        }).build(OpenSearchRunner.newConfigs()
                .numOfNode(nodes)
                .basePath(args[2])
                .clusterName(clusterName)
                .baseHttpPort(port - 1)
                .pluginTypes(KNN_PLUGIN)
                .disableESLogger());
        ClusterHealthStatus health = runner.ensureGreen();
        if (health != ClusterHealthStatus.GREEN) {
            System.err.println("the cluster did not turn green: " + health);
            runner.close();
            System.exit(1);
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            synchronized (runner) { // not while a command is stopping or starting a node
                try {
                    runner.close();
                } catch (IOException e) {
                    System.err.println("closing the cluster: " + e);
                }
            }
            stopped.countDown();
        }));
        Thread commands = new Thread(() -> readCommands(runner, nodes), "commands");
        commands.setDaemon(true); // the JVM runs until terminated, whatever standard input does
        commands.start();
        System.out.println("READY http://127.0.0.1:" + port);
        System.out.flush();
        stopped.await();
    }

    /** Runs the {@code stop I} / {@code start I} commands of standard input until it ends. */
    private static void readCommands(OpenSearchRunner runner, int nodes) {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        try {
            while ((line = in.readLine()) != null) {
                String[] words = line.trim().split("\\s+");
                if (words.length == 1 && words[0].isEmpty()) {
                    continue;
                }
                String reply;
                try {
                    int i = words.length == 2 ? Integer.parseInt(words[1]) : 0;
                    if (i < 1 || i > nodes || !(words[0].equals("stop") || words[0].equals("start"))) {
                        throw new IllegalArgumentException("expected stop I or start I, I from 1 to " + nodes);
                    }
                    synchronized (runner) {
                        reply = words[0].equals("stop") ? stop(runner, i) : start(runner, i, nodes);
                    }
                } catch (Exception e) { // a bad command or a node that failed: said, and the next one read
                    reply = "FAILED " + line.trim() + ": " + e;
                }
                System.out.println(reply);
                System.out.flush();
            }
        } catch (IOException e) {
            System.err.println("reading commands: " + e);
        }
    }

    private static String stop(OpenSearchRunner runner, int i) throws IOException, InterruptedException {
        Node node = runner.getNode(i - 1);
        if (node.isClosed()) {
            throw new IllegalStateException("node " + i + " is not running");
        }
        node.close(); // leaves the cluster: its shard copies are failed over to the other nodes
        if (!node.awaitClose(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("node " + i + " did not close within 30 s");
        }
        return "STOPPED " + i;
    }

    private static String start(OpenSearchRunner runner, int i, int nodes) {
        // A new node on the closed one's environment: the same data folder, name and HTTP port.
        if (!runner.startNode(i - 1)) {
            throw new IllegalStateException("node " + i + " is running or did not start");
        }
        ClusterHealthResponse health = runner.client().admin().cluster()
                .health(Requests.clusterHealthRequest().waitForNodes(String.valueOf(nodes)).timeout("60s"))
                .actionGet();
        if (health.isTimedOut()) {
            throw new IllegalStateException("the cluster has " + health.getNumberOfNodes() + " nodes, not " + nodes);
        }
        return "STARTED " + i;
    }
}
